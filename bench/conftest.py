"""The pytest-benchmark suites in bench/ print the machine they run on in the header of the run."""

from _common import machine_lines


def pytest_report_header(config):
    return ["machine of this run:", *machine_lines()]
