"""Server start-up guards."""
import subprocess

import mwtest


def test_second_server_on_same_data_dir_refused(make_server, tmp_path):
    first = make_server(name="same")
    second = mwtest.Server(tmp_path, name="same")   # other ports, same data_dir
    assert second.data_dir == first.data_dir
    p = subprocess.run([mwtest.BIN, "-c", second.config_path, "serve"], capture_output=True,
                       text=True, timeout=30 * mwtest.SLOW)
    assert p.returncode != 0
    assert "another mailward serve is running" in p.stderr
    # The first one is untouched and still answers.
    with first.session() as c:
        c.cmd("NOOP", 250)
        c.cmd("QUIT", 221)
