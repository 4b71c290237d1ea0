"""The checks, hints and run cells in Chinese: ``echo_lab.i18n.use('zh_CN')``, the Chinese notebooks' extra line.

The same learner's code as in ``test_checks.py`` (the starter, the solution, one plausible mistake),
checked once with the Chinese catalog in force and once after ``use('en')``: the words change, the
values in them (byte counts, names, code) do not, and English comes back exactly as before.
"""

import re
import selectors
import socket

import polib
import pytest
import test_checks

from echo_lab import i18n, seed, stop_all
from echo_lab.checks import check_accept_wrapper, hint, serve_tutorial_clients, show_error, solution, tracebacks
from echo_lab.run.runner import Runner

CATALOG = i18n.LOCALE / "zh_CN" / "LC_MESSAGES" / "echo_lab.po"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def english_afterwards():
    """Whatever a test chose, the next one (here or in another module) starts in English."""
    i18n.use("en")
    yield
    i18n.use("en")
    stop_all()


@pytest.fixture
def chinese():
    i18n.use("zh_CN")


def starter():
    return test_checks.check("accept_wrapper", test_checks.answer_cell("exercises", "accept_wrapper"))


def wrong_total():
    """The client's service_connection with `=` for `+=`: 22 bytes counted of the 44 received."""
    mistake = dict((case, r) for case, r, _ in test_checks.MISTAKES["client_service_connection"])["assigns-total"]
    return test_checks.check("client_service_connection",
                             test_checks.mutate(test_checks.solution_code("client_service_connection"), *mistake))


def mistake(exercise, case):
    """The solution with one of test_checks.MISTAKES in it, checked."""
    replacements = dict((name, r) for name, r, _ in test_checks.MISTAKES[exercise])[case]
    return test_checks.check(exercise, test_checks.mutate(test_checks.solution_code(exercise), *replacements))


def passing():
    return test_checks.check("register_listening", test_checks.solution_code("register_listening"))


# ---------------------------------------------------------------------------
# use('zh_CN'): the three outcomes, hints and solutions in Chinese

def test_not_attempted_is_said_in_chinese(chinese):
    result = starter()
    assert result.outcome == "not attempted"
    assert repr(result).startswith("… accept_wrapper：尚未作答。accept_wrapper 仍然抛出 NotImplementedError。"), result
    assert "`# YOUR CODE HERE`" in result.message and "单元格" in result.message
    assert "尚未作答" in result._repr_html_()


def test_a_wrong_answer_is_said_in_chinese_with_the_same_values(chinese):
    result = wrong_total()
    assert result.outcome == "wrong"
    assert result.message == "它收到了全部 44 字节，但 data.recv_total 是 22。", result
    shown = repr(result)
    assert shown.startswith("✘ client_service_connection：还不对。"), shown
    assert "\n提示：要累加，不要赋值：`data.recv_total += len(recv_data)`。" in shown
    assert '更多帮助：hint("client_service_connection")，然后 hint("client_service_connection", 2)' in shown
    html = result._repr_html_()
    assert "还不对" in html and "<b>提示：</b>" in html and "<code>data.recv_total += len(recv_data)</code>" in html


def test_the_hint_for_the_learners_mistake_is_said_in_chinese(chinese):
    result = mistake("listening_socket", "bind-two-arguments")  # an exception of the learner's code
    assert result.hint == "`bind` 只接受一个参数，即一个 (host, port) 元组：`bind((host, port))`，要写两层括号。"
    assert "\n提示：`bind` 只接受一个参数" in repr(result)
    closed = mistake("bug_hunt", "modifies-after-closing").hint
    assert "已关闭的 socket 的 fileno 是 -1" in closed and "在 `sock.close()` 之后立即 `return`" in closed, closed
    assert mistake("accept_wrapper", "data-none-passed").hint == (
        "命名空间创建了，却没有在注册时传给 register，所以 key 的 data 是 None："
        "`sel.register(conn, events, data=data)`。")


def test_a_passing_answer_is_said_in_chinese(chinese):
    result = passing()
    assert result.passed
    assert repr(result).startswith("✔ register_listening：通过。lsock 以 data=None 注册了 EVENT_READ 事件"), result
    assert "通过" in result._repr_html_()


def test_a_wrong_argument_is_said_in_chinese(chinese):
    result = check_accept_wrapper(None, None)
    assert result.message == "请传入你的函数：参数 `accept_wrapper` 是 None。"


def test_hints_and_solutions_are_shown_in_chinese(chinese):
    first, last = hint("accept_wrapper"), hint("accept_wrapper", 3)
    assert repr(first).startswith("accept_wrapper 的第 1 条提示（共 3 条）：接受等待中的连接"), repr(first)
    assert repr(first).endswith('\n下一条：hint("accept_wrapper", 2)')
    assert "`sel.register(conn, events, data=data)`" in last.text and CHINESE.search(last.text)
    assert 'solution("accept_wrapper") 会给出答案' in repr(last)
    assert "<b>第 1 条提示（共 3 条）</b>" in first._repr_html_()
    shown = solution("accept_wrapper")
    assert repr(shown).startswith("accept_wrapper 的参考答案：\ndef accept_wrapper(sock):")
    assert "<b>参考答案</b>" in shown._repr_html_()
    assert "sel.register(conn, events, data=data)" in shown.code  # the code stays code
    with pytest.raises(ValueError, match="没有名为 'nope' 的练习"):
        hint("nope")


def test_the_exercises_texts_stay_english_while_chinese_is_in_force(chinese):
    """hint() translates when it shows a hint: the texts the checks keep are the English ones."""
    from echo_lab.checks import EXERCISES
    assert EXERCISES["accept_wrapper"].hints[0].startswith("Accept the waiting connection")


def test_run_cells_print_chinese(chinese, capsys):
    ns = test_checks.learner(test_checks.answer_cell("exercises", "accept_wrapper"))
    try:
        ns["accept_wrapper"](None)
    except NotImplementedError as error:
        show_error(error)
    assert capsys.readouterr().out == "accept_wrapper 还没有写：在上面写好它，运行那个单元格，然后再运行这一个。\n"
    ns = test_checks.learner(test_checks.solution_code("service_connection"))
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.setblocking(False)
    ns["sel"].register(lsock, selectors.EVENT_READ, data=None)
    accept_wrapper, _ = seed.server_functions(ns["sel"], print=lambda *args: None)
    serve_tutorial_clients(ns["sel"], accept_wrapper, ns["service_connection"])
    assert "2 个客户端发送了 88 字节，收回了 88 字节\n" in capsys.readouterr().out
    assert tracebacks.error_meaning(ConnectionRefusedError()) == "没有谁接受这个连接：该地址上没有监听 socket。"


# ---------------------------------------------------------------------------
# use('en'): English again, exactly; an unknown language is refused

def test_english_comes_back_after_use_en():
    i18n.use("zh_CN")
    assert "尚未作答" in repr(starter())
    i18n.use("en")
    assert repr(starter()).startswith("… accept_wrapper: not attempted yet. accept_wrapper still raises "
                                      "NotImplementedError. Write it in the cell marked `# YOUR CODE HERE`")
    wrong = wrong_total()
    assert wrong.message == "It received all 44 bytes, but data.recv_total is 22."
    assert repr(wrong).startswith("✘ client_service_connection: not right yet. ")
    assert "\nHint: Add up, don't assign: `data.recv_total += len(recv_data)`." in repr(wrong)
    assert repr(passing()).startswith("✔ register_listening: passed. lsock is registered for EVENT_READ")
    assert repr(hint("accept_wrapper")).startswith("Hint 1 of 3 for accept_wrapper: Accept the waiting connection")
    assert repr(solution("accept_wrapper")).startswith("Solution for accept_wrapper:\ndef accept_wrapper(sock):")
    for result in (starter(), wrong, passing(), hint("accept_wrapper"), solution("accept_wrapper")):
        assert not CHINESE.search(repr(result) + result._repr_html_()), repr(result)


def test_a_thread_echo_lab_starts_speaks_the_language_of_the_code_that_made_it():
    """The language is a context variable: a runner's thread copies its maker's, and speaking() ends."""
    said = lambda: i18n._("not attempted yet")  # noqa: E731
    with i18n.speaking("zh_CN"):
        chinese = Runner(said, name="zh", route=False).start()
    english = Runner(said, name="en", route=False).start()
    for runner in (chinese, english):
        assert runner.join(5), runner.name
        runner.stop()
    assert (chinese.value, english.value, said()) == ("尚未作答", "not attempted yet", "not attempted yet")


def test_an_unknown_language_is_refused():
    with pytest.raises(ValueError, match="fr"):
        i18n.use("fr")
    assert repr(hint("accept_wrapper")).startswith("Hint 1 of 3")  # still English


# ---------------------------------------------------------------------------
# the catalog

def test_every_message_of_the_package_has_a_chinese_translation_with_the_same_fields():
    catalog = polib.pofile(str(CATALOG))
    assert len(catalog) > 300
    fields = lambda text: sorted(re.findall(r"{[^{}]*}", text))  # noqa: E731
    for entry in catalog:
        assert entry.msgstr and "fuzzy" not in entry.flags, entry.msgid
        assert fields(entry.msgstr) == fields(entry.msgid), entry.msgid
        assert sorted(re.findall(r"`[^`]*`", entry.msgstr)) == sorted(re.findall(r"`[^`]*`", entry.msgid)), \
            entry.msgid  # code stays code
    compiled = polib.mofile(str(CATALOG.with_suffix(".mo")))
    assert {(e.msgid, e.msgstr) for e in compiled} == {(e.msgid, e.msgstr) for e in catalog}
