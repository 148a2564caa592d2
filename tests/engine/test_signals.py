"""SignalWatch with real signals sent to this process: stop now before a stage, at a batch end during one."""

from __future__ import annotations

import os
import signal
from types import SimpleNamespace

import pytest

from lighter.engine.signals import SignalWatch, Stopped


def _send(signum: int) -> None:
    os.kill(os.getpid(), signum)  # handled on the main thread before os.kill returns


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_before_a_stage_a_signal_stops_at_once(signum, status):
    previous = signal.getsignal(signum)
    with pytest.raises(Stopped), SignalWatch() as watch:
        _send(signum)
    assert watch.received == signum and watch.exit_status == status
    assert signal.getsignal(signum) is previous  # the handler is put back


def test_during_a_stage_the_first_signal_raises_lightnings_flag_and_a_second_stops_at_once():
    trainer = SimpleNamespace(_signal_connector=SimpleNamespace(received_sigterm=False), callbacks=[])
    with SignalWatch() as watch:
        watch.watch(trainer, save_checkpoint=False)
        _send(signal.SIGINT)  # no KeyboardInterrupt in the middle of a batch
        assert trainer._signal_connector.received_sigterm
        assert watch.received == signal.SIGINT
        with pytest.raises(Stopped):
            _send(signal.SIGTERM)
    assert watch.exit_status == 130  # the first signal decides


def test_the_message_says_where_it_stopped_and_how_to_resume(tmp_path):
    watch = SignalWatch()
    watch.received = signal.SIGTERM
    trainer = SimpleNamespace(callbacks=[])
    watch.watch(trainer, save_checkpoint=True).checkpoint = tmp_path / "interrupted.ckpt"
    error = watch.interrupted("fit, epoch 2, step 40", "fit", "a.yaml,b.yaml", ["--trainer#max_epochs=9"])
    assert str(error).splitlines() == [
        f"stopped by SIGTERM during fit, epoch 2, step 40; saved a checkpoint to resume from: {tmp_path}/interrupted.ckpt",
        f"  resume with: lighter fit a.yaml,b.yaml '--trainer#max_epochs=9' '--args#fit#ckpt_path={tmp_path}/interrupted.ckpt'",
    ]
    assert error.exit_status == 143
