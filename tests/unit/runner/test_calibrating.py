from judge.runner.calibrating import apply_calibrator
from judge.types import Judgment, PairJudgment


class Halving:
    """A calibrator that halves scores and P(a), recording what it was asked."""

    def __init__(self):
        self.calls = []

    def calibrate_judgment(self, judgment, *, force=False):
        self.calls.append(("judgment", judgment.sample_id, force))
        return judgment.model_copy(update={"score": judgment.score / 2})

    def calibrate_pair(self, judgment, *, force=False):
        self.calls.append(("pair", judgment.pair_id, force))
        return judgment.model_copy(update={"p_a": judgment.p_a / 2})


def test_apply_calibrator_sends_each_kind_of_judgment_to_its_method():
    calibrator = Halving()
    [judgment] = apply_calibrator(calibrator, [Judgment(sample_id="s", score=0.8)], force=True)
    [pair] = apply_calibrator(calibrator, [PairJudgment(pair_id="p", p_a=0.6)])
    assert judgment.score == 0.4 and pair.p_a == 0.3
    assert calibrator.calls == [("judgment", "s", True), ("pair", "p", False)]


def test_without_a_calibrator_judgments_are_unchanged():
    judgments = [Judgment(sample_id="s", score=0.8)]
    assert apply_calibrator(None, judgments) == judgments
