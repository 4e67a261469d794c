"""What machine a benchmark ran on, for the figures it prints. No torch here: the embedded
engine's benchmark runs without it."""
import platform


def cpu_name() -> str:
    """The CPU's model name as Linux reports it (/proc/cpuinfo), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"
