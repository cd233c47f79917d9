"""Grading cases with the verdict lighteval's own code gives each: the unit tests assert them on
our grader (test_grading.py, test_letters.py, test_extractive_match.py, whose docstrings say how
each verdict was derived), and lighteval_diff/differential.py runs them through lighteval's code
on every CI run."""


def r1(answer: str, reasoning: str = "Let me compute step by step. \\boxed{99} maybe?") -> str:
    """An R1-style completion: reasoning, one ``</think>``, then the answer text."""
    return f"{reasoning}\n</think>\n\nSo the result follows.\n\n**Final Answer**\n{answer}"


# (prediction after </think>, gold, gold_format, expected correct)
MATH_CASES = [
    # integers with thousands separators
    ("\\[\\boxed{1,000}\\]", "1000", "expr", True),
    # lighteval reads a thin space as a product (1*000), math-verify's reading drops it first
    ("\\[\\boxed{1\\,000}\\]", "1000", "expr", False),
    ("\\[\\boxed{1{,}000}\\]", "1000", "expr", True),
    ("\\[\\boxed{1000}\\]", "The total is $\\boxed{1,\\!000}$.", "latex", True),
    ("\\[\\boxed{1\\,234\\,567}\\]", "1234567", "expr", False),
    ("\\[\\boxed{1\\,000}\\]", "100", "expr", False),
    # AIME/AMC numbers
    ("\\[\\boxed{204}\\]", "204", "expr", True),
    ("\\[\\boxed{033}\\]", "33", "expr", True),
    ("\\[\\boxed{205}\\]", "204", "expr", False),
    ("\\[\\boxed{\\frac{7}{2}}\\]", "3.5", "expr", True),
    # fractions, decimals, \dfrac (precision 5)
    ("$\\boxed{0.5}$", "$\\boxed{\\frac{1}{2}}$", "latex", True),
    ("$\\boxed{\\dfrac{1}{2}}$", "$\\boxed{\\frac12}$", "latex", True),
    ("$\\boxed{0.33333}$", "$\\boxed{\\frac13}$", "latex", True),
    ("$\\boxed{0.33}$", "$\\boxed{\\frac13}$", "latex", False),
    ("$\\boxed{\\frac{2}{3}}$", "$\\boxed{\\frac13}$", "latex", False),
    # radicals
    ("$\\boxed{2\\sqrt{2}}$", "$\\boxed{\\sqrt{8}}$", "latex", True),
    ("$\\boxed{\\frac{\\sqrt{3}}{2}}$", "$\\boxed{\\frac{1}{2}\\sqrt3}$", "latex", True),
    ("$\\boxed{\\sqrt[3]{2}}$", "$\\boxed{2^{1/3}}$", "latex", True),
    ("$\\boxed{\\sqrt{3}}$", "$\\boxed{\\sqrt{2}}$", "latex", False),
    # multiples of pi: symbolic, a decimal approximation is not accepted
    ("$\\boxed{6\\pi}$", "$\\boxed{6 \\pi}$", "latex", True),
    ("$\\boxed{\\frac{3\\pi}{2}}$", "$\\boxed{1.5\\pi}$", "latex", True),
    ("$\\boxed{18.85}$", "$\\boxed{6 \\pi}$", "latex", False),
    # intervals
    ("$\\boxed{\\left( -\\infty, 3 \\right]}$", "$\\boxed{(-\\infty,3]}$", "latex", True),
    ("$\\boxed{(-\\infty, 3)}$", "$\\boxed{(-\\infty,3]}$", "latex", False),
    # sets and multiple answers
    ("$\\boxed{\\{3, 1, 2\\}}$", "$\\boxed{\\{1,2,3\\}}$", "latex", True),
    ("$\\boxed{-2, 5}$", "$\\boxed{5, -2}$", "latex", True),
    ("$\\boxed{2}$ and $\\boxed{3}$", "$\\boxed{2, 3}$", "latex", True),
    ("$\\boxed{1, 2}$", "$\\boxed{1,2,3}$", "latex", False),
    # degrees, units, percent, dollars
    ("$\\boxed{30^\\circ}$", "$\\boxed{30^\\circ}$", "latex", True),
    ("$\\boxed{30}$", "$\\boxed{30^\\circ}$", "latex", True),
    ("$\\boxed{12\\text{ cm}}$", "$\\boxed{12}$", "latex", True),
    ("$\\boxed{25\\%}$", "$\\boxed{25\\%}$", "latex", True),
    ("$\\boxed{0.25}$", "$\\boxed{25\\%}$", "latex", True),
    ("$\\boxed{\\$18.90}$", "$\\boxed{\\$18.90}$", "latex", True),
    # \text{} answers
    ("$\\boxed{\\text{Friday}}$", "$\\boxed{\\text{Friday}}$", "latex", True),
    ("$\\boxed{\\text{Thursday}}$", "$\\boxed{\\text{Friday}}$", "latex", False),
    # matrices and vectors
    (
        "$\\boxed{\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}}$",
        "$\\boxed{\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}}$",
        "latex",
        True,
    ),
    (
        "$\\boxed{\\begin{pmatrix} 1 & 0 \\\\ 0 & 2 \\end{pmatrix}}$",
        "$\\boxed{\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}}$",
        "latex",
        False,
    ),
    ("$\\boxed{\\begin{pmatrix} 1 \\\\ -2 \\end{pmatrix}}$", "$\\boxed{(1,-2)}$", "latex", False),
    # equations
    ("$\\boxed{x=2}$", "$\\boxed{2}$", "latex", True),
    ("$\\boxed{2}$", "So $x = \\boxed{2}$.", "latex", True),
    ("$\\boxed{y=3+2x}$", "$\\boxed{y = 2x + 3}$", "latex", True),
    ("$\\boxed{y=2x-3}$", "$\\boxed{y = 2x + 3}$", "latex", False),
    # polynomials
    ("$\\boxed{2x^2+1}$", "$\\boxed{1+2x^2}$", "latex", True),
    # nested braces inside \boxed
    ("$\\boxed{\\frac{1}{\\frac{1}{2}}}$", "$\\boxed{2}$", "latex", True),
    ("$\\boxed{{{5}}}$", "$\\boxed{5}$", "latex", True),
    ("$\\boxed{\\frac{a^{2}+b^{2}}{2}}$", "$\\boxed{\\frac{a^2+b^2}{2}}$", "latex", True),
    # the paper prompt's own last line
    ("Therefore, the final answer is: $\\boxed{42}$. I hope it is correct", "42", "expr", True),
]


# (completion, lighteval's letter from the whole completion, its letter after the last </think>).
# Derived from lighteval's regexes at ed084813 (see tests/test_letters.py; priority in brackets),
# and confirmed by running that code.
GPQA_COMPLETIONS = [
    ("Okay, option A seems off.\n</think>\n\nAnswer: C", "C", "C"),  # [100] "Answer: C"
    # [300] "C\n" is no key ("\n" is no suffix), so the last capital A-D of the text: the C
    ("Answer: C\n</think>\nI refuse to choose.", "C", ""),
    ("So B or D. Let me check D again.\n</think>\n\n**Answer: B**", "B", "B"),  # [100]
    ("Hmm, (A) fails.\n</think>\n\nThe correct option is \\boxed{D}.", "D", "D"),  # [300]
    ("The answer is C. Wait, no.\n</think>\n\nANSWER: A", "A", "A"),  # [100] beats [150]
    ("Let me see. Because the spin is 1/2...\n</think>\n\nAnswer: $D$", "D", "D"),  # [300]
    ("Considering DNA...\n</think>\n\nThe final answer is A. I hope it is correct.", "A", "A"),
    ("Truncated reasoning where option B looks right and D", "D", "D"),  # [250] " D" at the end
    ("Let me reason: the energy is E = hf.", "", ""),  # no capital A-D at all
    ("After </think> nothing", "A", ""),  # [300] the A of "After"
    ("Clearly A\n</think>\nClearly B", "B", "B"),  # [250] " B" at the end
    ("</think>\n\n**C**", "C", "C"),  # [300]: the "\n" before ** is no space
    # [150] the first key after "answer", not the letters listed before it
    ("Among A, B, C and D, the answer must be C because B is wrong.", "C", "C"),
    ("The answer: D. Since A and B fail, and C is close.", "D", "D"),  # [100]
    ("I hope it is A. The final answer is D", "D", "D"),  # [50]
    # the three forms of issue 11
    ("A. Because B is not valid", "A", "A"),  # [200] key at the start of the string
    ("The answer is for sure D, it can't be A or B", "D", "D"),  # [150]
    ("... therefore I think it's B", "B", "B"),  # [250]
]


# (text, the letter lighteval ed084813 extracts): tests/test_letters.py says how each was derived
LETTER_CASES = [
    # --- the three answers our old grader missed and lighteval extracts ---
    ("A. Because B is not valid", "A"),  # 200: key at string start beats the later letters
    ("The answer is for sure D, it can't be A or B", "D"),  # 150: first key after "answer"
    ("... therefore I think it's B", "B"),  # 250: " B" at the end of the string
    # --- anchored forms ---
    ("Answer: C", "C"),  # 100
    ("ANSWER: D", "D"),  # the word "answer" is case-insensitive
    ("Answer: **B**", "B"),  # 100: markdown bold around the key is allowed
    ("Answer: A.", "A"),  # 100: full stop after the key
    ("Answer: D,", "D"),  # 100: comma after the key
    ("So the answer is B.", "B"),  # 150
    ("The answer is C, since it fits.", "C"),  # 150
    ("Answer : B", "B"),  # 100 needs "answer:" glued; 150 still finds " B" at the end
    ("B", "B"),  # 200: a bare letter completion
    ("**B**", "B"),  # 200
    # --- forms with no recognised key: only the 300 "any capital A-D" fallback catches them ---
    ("**Answer:** (C)", "C"),  # "(" blocks the key; C ends after the A of "Answer"
    ("\\boxed{C}", "C"),
    ("The correct option is $\\boxed{C}$.", "C"),
    ("Answer: $C$", "C"),
    ("(C)", "C"),  # parenthesised letters are only keys from v0.10.0 on
    ("Answer: B!", "B"),  # "!" is not an accepted suffix
    ("Answer:\nC", "C"),  # "." and "^" do not cross the newline, so 100/150 fail
    ("Let me think.\nC", "C"),  # a lone letter on the last line: newline is not a "space"
    # --- several letters: priority first, then the rightmost match ---
    ("Answer: B. Actually the answer is D", "B"),  # 100 beats the later 150 match
    ("Answer: A\nAnswer: C", "C"),  # 100: "A\n..." is no key, only the last line matches
    ("The answer is C or D", "C"),  # one 150 match; its lazy gap stops at the first key
    ("The answer is C. A common mistake is to choose B.", "C"),  # 150 beats 250/300
    ("A) 3 B) 4\nso it must be D", "D"),  # 250: "A)"/"B)" are not keys, " D" at the end is
    ("I considered option A here.\nD", "A"),  # 250 " A " beats 300 "D" (v0.10.0+: "D")
    ("Answer: (B) ... D", "D"),  # "(B)" is no key; 100 reaches " D" (v0.10.0+: "B")
    ("It's C! Not A", "A"),  # 250 " A" at the end; "C!" is not a key
    ("The final answer is $\\boxed{B}$. But D is close.", "D"),  # 250 " D " beats boxed B (300)
    # A key followed by a newline and more text is not a key ($ is only the string end), so
    # "Answer: B" loses to the later 150 match, or falls through to 300.
    ("Answer: B\nActually the answer is D", "D"),
    ("Answer: B\nThat is all.", "B"),  # 300: B is the last capital A-D
    ("Answer: B\n", "B"),  # 100: $ also matches before a single final newline
    # --- the "final answer" anchors beat everything else ---
    (
        "Option A looks tempting, but B is wrong too. The final answer is D. I hope it is correct.",
        "D",
    ),
    ("The final answer is B. I hope it is correct.", "B"),  # 0
    ("Answer: A\nHmm, so my final answer is C", "C"),  # 50 beats the earlier 100-form
    ("The final answer to this question is C", "C"),  # 50: up to 100 chars before "is"
    ("The final answer is: **C**", "C"),  # 50 fails on "**"; 150 catches " **C**" at the end
    ("The final answer is Because", "B"),  # 50 needs no suffix after the letter
    ("The answer is A. Final answer: C", "C"),  # 100 ("answer: C") beats 150 ("answer is A")
    ("<think>I think B fits.</think>\n\nThe answer is C.", "C"),  # nothing strips <think> here
    ("so the answer is B\n\n**Final Answer**\n\\boxed{B}", "B"),
    # --- capitals inside words: ignored when any anchor matches, caught by 300 otherwise ---
    ("Because of the symmetry, the answer is C", "C"),  # 150 wins; the B of Because is unused
    ("Because", "B"),  # lighteval really extracts B from "Because" when nothing else matches
    ("DNA replication", "A"),  # ... and the last capital A-D of "DNA"
    ("Answer:\n\nC\n\nBecause it is stable.", "B"),  # 300: the B of "Because" is rightmost
    # --- lowercase letters are never choices; no letter at all gives "" ---
    ("the answer is c", ""),
    ("answer: (b)", ""),
    ("b", ""),
    ("the final answer is (d)", ""),
    ("I am not sure.", ""),
    ("", ""),
    ("The answer is E", ""),  # E is not one of the 4 GPQA choices
    # --- more forms R1-style models write ---
    ("**Answer:** C", "C"),  # 100: the lazy gap skips "**", " C" is the key
    ("Answer:  B", "B"),  # 100: the gap takes one space, the key's prefix the other
    ("answer:C", "C"),  # no space before C: no key anywhere, only 300
    ("answer - B", "B"),  # 150
    ("Answer: **C) 42**", "C"),  # ")" is no suffix: no key, 300 takes the rightmost capital
    ("The answer is \\(\\boxed{C}\\)", "C"),  # 300
    ("The answer is (B), not C", "C"),  # 150 reaches " C"; v0.10.0+ would say "B"
    ("I'd go with B.\n\nAnswer: B", "B"),  # 100
    ("Option C: 4 eV.\nAnswer: D", "D"),  # 100 beats 250's " C:"
    ("A: no. B: yes.", "A"),  # 200 (string start) beats 250's " B:"
    ("So, the answer is D.\n\nWait, maybe A.", "D"),  # 150 beats 250's " A."
    ("answer B and also answer C", "C"),  # two 150 matches: the one ending rightmost
    ("The answer is A, B", "A"),  # one 150 match; the rest has no "answer"
    ("answer is **D**.", "D"),  # 150 with markdown bold
    ("D.", "D"),  # 200
    ("The final answer to the question is: B", "B"),  # 50
    ("Final answer: the correct choice is B, since", "B"),  # 50: " is" then the letter
    ("final answer is C I hope", "C"),  # 0
    # "I hope" and the " is" of 50 are case-sensitive (only "final answer" is not): 150 decides
    ("THE FINAL ANSWER IS C. I HOPE", "C"),
    ("Thus, answer is (C).", "C"),  # 300: "(C)" is no key before v0.10.0
]


# (completion, gold, gold_format, lighteval's verdict, math-verify 0.9.0's reading)
VERDICTS = [
    # lighteval reads a percentage as hundredths: 113% is 1.13
    ("Therefore, the final answer is: $\\boxed{113\\%}$. I hope it is correct", "113", "expr",
     False, True),
    ("Therefore, the final answer is: $\\boxed{6 - 5\\cdot i}$. I hope it is correct",
     "So $z = \\boxed{6 - 5i}$.", "latex", True, False),
    # a decimal never equals an irrational
    ("Therefore, the final answer is: $\\boxed{6.7082}$. I hope it is correct",
     "It is $\\boxed{3\\sqrt{5}}$.", "latex", False, True),
    # "degrees" is not a unit to 1.0.6: 120*d*e*g*r*e*e*s
    ("Therefore, the final answer is: $\\boxed{120 degrees}$. I hope it is correct", "120",
     "expr", False, True),
    ("Therefore, the final answer is: $\\boxed{2x + 3 = y}$. I hope it is correct",
     "$\\boxed{y = 2x + 3}$", "latex", True, True),
    ("The answer is $\\boxed{2}$ and $\\boxed{3}$.", "$\\boxed{2, 3}$", "latex", True, True),
    # lighteval joins LaTeX answers with "and" / "or" / ",", math-verify also with ",and"
    ("The answers are $x = 2$,and $x = 3$.", "$\\boxed{2, 3}$", "latex", False, True),
    # lighteval's number regex accepts a leading 0 in a thousands group, math-verify's does not
    ("The total is 01,234 apples.", "1234", "expr", True, False),
    # a gold that extracts only as text is compared as text (Minerva's -1./3)
    ("So $\\boxed{-\\frac{1}{3}}$", "so \\boxed{-1./3}", "latex", False, False),
    ("So $\\boxed{-1./3}$", "so \\boxed{-1./3}", "latex", True, True),
    ("So the energy is $\\boxed{\\gamma m c^2}$.", "Thus $E = \\boxed{\\gamma m c^2}$.", "latex",
     True, True),
    ("So $\\boxed{25\\%}$", "$\\boxed{0.25}$", "latex", True, True),
    # the rightmost boxed answer: math-verify's boxed pattern swallows the spaces after a box
    ("the final answer is $\\boxed{5}$ \\boxed{6}", "6", "expr", True, False),
]  # fmt: skip
