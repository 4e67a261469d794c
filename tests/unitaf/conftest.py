"""The CPU these tests see. precision=auto picks bf16 on CPUs with native bf16 and fp32 elsewhere,
so every module here runs on a pinned CPU (without native bf16) whatever machine runs the suite,
and the tests that reach the pick (marked `cpu_bf16_both`, on the test or its module) run twice: on
a CPU without and with native bf16. The pin replaces `devices.cpu_flags`, the one place the
precision pick reads the CPU."""
import pytest

NO_NATIVE_BF16 = frozenset("fpu sse sse2 avx f16c fma avx2 bmi2".split())          # an AVX2 EPYC
NATIVE_BF16 = NO_NATIVE_BF16 | {"avx512f", "avx512bw", "avx512_bf16"}            # a Zen 4
OUTCOMES = {"cpu-without-bf16": NO_NATIVE_BF16, "cpu-with-bf16": NATIVE_BF16}
_host = {}      # the reader the pin replaces


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("cpu_bf16_both"):
        metafunc.parametrize("cpu_outcome", list(OUTCOMES), indirect=True, scope="module")


@pytest.fixture(scope="module", autouse=True)
def cpu_outcome(request):
    """The pinned CPU of this module's tests: its name in OUTCOMES. Module-scoped and autouse, so
    it is in place before any module fixture loads a model."""
    name = getattr(request, "param", "cpu-without-bf16")
    try:
        from unitaf_blender.engines.unitaf import devices
    except ImportError:       # no torch: these modules skip, and nothing reads the flags
        yield name
        return
    _host.setdefault("cpu_flags", devices.cpu_flags)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(devices, "cpu_flags", lambda: OUTCOMES[name])
        yield name


@pytest.fixture
def host_cpu_flags():
    """devices.cpu_flags as it is, unpinned: reads this machine's CPU."""
    return _host["cpu_flags"]
