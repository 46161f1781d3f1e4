"""Top frames of a py-spy collapsed-stack profile (`python -m bench.profile --raw`), as text for a report.

python -m bench.profile_summary bench/results/profiles/profile-db_redis-gevent-c100.txt
"""

import collections
import re
import sys


def summarise(path: str, top_self: int = 25, top_inclusive: int = 70) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path) as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            samples = int(count)
            total += samples
            frames = [frame for frame in stack.split(";") if " (" in frame]  # drops the process/thread labels
            if not frames:
                continue
            own[frames[-1]] += samples
            # A function counted once per sample, whichever of its lines the stack passed through.
            for name in {re.sub(r":\d+\)$", ")", frame) for frame in frames}:
                inclusive[name] += samples
    out = [f"{path}: {total} samples (all workers, wall clock)", "", "== top frames by own samples =="]
    out += [f"{100 * n / total:5.1f}% {frame}" for frame, n in own.most_common(top_self)]
    out += ["", "== top functions, inclusive =="]
    out += [f"{100 * n / total:5.1f}% {frame}" for frame, n in inclusive.most_common(top_inclusive)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(summarise(argument))
