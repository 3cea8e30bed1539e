"""The Dockerfile, .dockerignore and requirements.lock, checked without Docker (test_deploy_web.py runs the
image's commands)."""
import re
import tomllib

from importlib.metadata import packages_distributions

from packaging.requirements import Requirement

from tests.deploy_helpers import ROOT, dockerfile_instructions, image_command

# Declared dependencies that no module of ours imports by name, and what uses them.
USED_INDIRECTLY = {"psycopg": "Django's PostgreSQL backend, for DATABASE_URL=postgres://..."}


def test_it_builds_in_two_stages_from_slim_python_3_11():
    instructions = dockerfile_instructions()

    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in instructions
    assert [arguments for instruction, arguments in instructions if instruction == "FROM"] == \
        ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]


def test_it_installs_the_locked_dependencies_and_collects_static_files_at_build_time():
    build = _stage(0)

    assert "pip install --only-binary=:all: -r /app/requirements.lock" in build["RUN"]
    assert any("pip install --no-deps -e ." in run and "python manage.py collectstatic --noinput" in run
               and "STATIC_ROOT=/app/staticfiles" in run for run in build["RUN"])
    assert "/app/staticfiles" in _stage(1)["ENV"][0]


def test_it_runs_as_an_unprivileged_user_that_can_write_only_the_data_folder():
    final = _stage(1)

    assert final["USER"] == ["exchange"]
    assert any("useradd --system" in run and "install -d -o exchange -g exchange -m 750 /data" in run
               for run in final["RUN"])
    assert final["VOLUME"] == ["/data"]


def test_it_serves_the_console_with_gunicorn_by_default():
    assert image_command() == ["gunicorn", "exchange_console.wsgi", "--bind", "0.0.0.0:8000",
                               "--worker-tmp-dir", "/dev/shm", "--access-logfile", "-"]


def test_it_leaves_local_and_secret_files_out_of_the_build_context():
    ignored = (ROOT / ".dockerignore").read_text().split("\n")

    for name in [".git", ".env", ".venv", "data", "staticfiles", "tests"]:
        assert name in ignored


def test_it_pins_every_declared_dependency_in_the_lock_within_its_range():
    declared = [Requirement(line) for line in _pyproject()["project"]["dependencies"]]
    locked = dict(line.split("==") for line in (ROOT / "requirements.lock").read_text().splitlines()
                  if line and not line.startswith("#"))
    locked = {_normalized(name): version for name, version in locked.items()}

    for requirement in declared:
        assert requirement.specifier.contains(locked[_normalized(requirement.name)]), requirement
    assert {"redis", "brotli", "psycopg-binary"} <= set(locked)  # what the extras bring


def test_it_declares_only_dependencies_that_the_code_imports_or_the_image_runs():
    code = "\n".join([(ROOT / "Dockerfile").read_text(), *(path.read_text() for folder in ("exchange_console", "transport")
                                                          for path in (ROOT / folder).rglob("*.py"))])
    distributions_of = packages_distributions()

    for requirement in _pyproject()["project"]["dependencies"]:
        name = _normalized(Requirement(requirement).name)
        if name in USED_INDIRECTLY:
            continue
        modules = [module for module, distributions in distributions_of.items()
                   if name in map(_normalized, distributions)]
        assert any(re.search(rf"\b{module}\b", code) for module in modules), requirement


def _stage(number):
    """The instructions of one build stage, by name: {"RUN": [arguments, ...], ...}."""
    stages, current = [], None
    for instruction, arguments in dockerfile_instructions():
        if instruction == "FROM":
            current = {}
            stages.append(current)
        elif current is not None:
            current.setdefault(instruction, []).append(arguments)
    return stages[number]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()
