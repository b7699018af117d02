from ipwtui.core import fmt


def test_num_significant_digits_and_na():
    assert fmt.num(None) == "N/A" and fmt.num(float("nan")) == "N/A"
    assert fmt.num(0.001, 2, "s") == "0.001 s"
    assert fmt.num(12.345) == "12.3"
    assert fmt.num(0.012345) == "0.0123"
    assert fmt.num(123456.7) == "123457"
    assert fmt.num(0) == "0"
    assert fmt.num(3.2e-6) == "3.20e-06"


def test_marks_and_symbols():
    assert fmt.mark("estimated") == " (estimate)" and fmt.mark("measured") == ""
    assert [fmt.correct_symbol(c) for c in (True, False, None)] == ["✓", "✗", "–"]
    assert fmt.pct(None) == "N/A" and fmt.pct(0.5) == "50.0 %"
