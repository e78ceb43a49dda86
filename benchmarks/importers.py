"""A 100,000-like Instagram export and a 100,000-like X archive, parsed and previewed, against
a plain `json.load` of the same file, in the same run.

Each export is written as the network gives it (a zip: Instagram's
`your_instagram_activity/likes/liked_posts.json` among a few media files, X's `data/like.js`
beside `data/tweets.js`), with realistic entry sizes (X likes carry the tweet's text).
Timed, each in a fresh subprocess so peaks do not pollute each other:
- import: `bridges.importers.registry.parse` (detection, the zip checks, streaming the
  member, decoding, every like typed) and the preview the donor sees (count, date range,
  distinct creators);
- baseline: `json.load` of the same JSON, already extracted (for X without the
  `window.YTD.like.part0 = ` line), nothing else.
Memory is the subprocess's peak resident set (VmHWM), interpreter included; the
interpreter's own start-up peak (imports done, nothing read) is printed too.
Target: each import under 10 s and under 256 MiB.

    .venv/bin/python benchmarks/importers.py [--likes 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 10.0
TARGET_MIB = 256.0
START = 1_700_000_000  # 2023-11-14
WORDS = "the a of light river photo morning city sound garden street night old new".split()


def write_instagram(directory: Path, likes: int, rng: random.Random) -> tuple[Path, Path]:
    entries = [
        {
            "title": f"creator_{rng.randrange(likes // 10 or 1)}",
            "string_list_data": [
                {
                    "href": f"https://www.instagram.com/p/C{n:010d}x/",
                    "value": "\U0001f44d",
                    "timestamp": START + n * 300 + rng.randrange(300),
                }
            ],
        }
        for n in range(likes)
    ]
    plain = directory / "liked_posts.json"
    plain.write_text(json.dumps({"likes_media_likes": entries}, indent=2))
    upload = directory / "instagram.zip"
    with zipfile.ZipFile(upload, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(plain, "your_instagram_activity/likes/liked_posts.json")
        archive.writestr("your_instagram_activity/likes/liked_comments.json", "{}")
        for n in range(20):
            archive.writestr(f"media/posts/202401/{n}.jpg", rng.randbytes(20_000))
    return upload, plain


def write_x(directory: Path, likes: int, rng: random.Random) -> tuple[Path, Path]:
    entries = []
    for n in range(likes):
        tweet = str(1_700_000_000_000_000_000 + n)
        handle = f"author_{rng.randrange(likes // 10 or 1)}"
        url = (
            f"https://twitter.com/{handle}/status/{tweet}"
            if n % 3 == 0
            else f"https://twitter.com/i/web/status/{tweet}"
        )
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(5, 40)))
        entries.append({"like": {"tweetId": tweet, "fullText": text, "expandedUrl": url}})
    body = json.dumps(entries, indent=2)
    plain = directory / "like.json"
    plain.write_text(body)
    upload = directory / "x.zip"
    with zipfile.ZipFile(upload, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data/like.js", "window.YTD.like.part0 = " + body)
        archive.writestr("data/tweets.js", "window.YTD.tweets.part0 = []")
        archive.writestr("Your archive.html", "<html></html>")
    return upload, plain


# --- the cases, each run in its own subprocess -------------------------------------


def case_import(path: Path, network: str) -> dict[str, object]:
    from bridges.importers.registry import parse

    started = time.perf_counter()
    calls = 0

    def progress(done: int, total: int) -> None:
        nonlocal calls
        calls += 1

    result = parse(path, network, progress)
    times = [like.liked_at for like in result.likes if like.liked_at is not None]
    creators = {like.creator.external_id for like in result.likes if like.creator}
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "count": len(result.likes),
        "first": min(times).date().isoformat() if times else "",
        "last": max(times).date().isoformat() if times else "",
        "creators": len(creators),
        "progress_calls": calls,
    }


def case_baseline(path: Path) -> dict[str, object]:
    started = time.perf_counter()
    with path.open() as handle:
        data = json.load(handle)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "count": len(data)}


def case_idle() -> dict[str, object]:
    import bridges.importers.registry  # noqa: F401

    return {"seconds": 0.0}


def run_case(args: list[str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--case", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def child(args: list[str]) -> None:
    kind = args[0]
    if kind == "import":
        out = case_import(Path(args[1]), args[2])
    elif kind == "baseline":
        out = case_baseline(Path(args[1]))
    else:
        out = case_idle()
    out["peak_mib"] = peak_mib()
    print(json.dumps(out))


def peak_mib() -> float:
    """This process's peak resident set: VmHWM belongs to the address space, so unlike
    `ru_maxrss` it does not carry the parent's peak across fork and exec."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--likes", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the exports here and keep them")
    parser.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        child(args.case)
        return 0
    rng = random.Random(16)
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        idle = run_case(["idle"])
        print(f"interpreter with the importers loaded: peak {idle['peak_mib']:.0f} MiB")
        print(
            f"{'export':<10}{'zip MB':>8}{'json MB':>9}{'likes':>9}{'import s':>10}"
            f"{'peak MiB':>10}{'json.load s':>13}{'peak MiB':>10}{'ratio s':>9}{'ratio mem':>11}"
        )
        ok = True
        for network, write in (("instagram", write_instagram), ("x", write_x)):
            upload, plain = write(directory, args.likes, rng)
            found = run_case(["import", str(upload), network])
            base = run_case(["baseline", str(plain)])
            seconds, peak = float(str(found["seconds"])), float(str(found["peak_mib"]))
            base_s, base_peak = float(str(base["seconds"])), float(str(base["peak_mib"]))
            zip_mb, json_mb = upload.stat().st_size / 1e6, plain.stat().st_size / 1e6
            print(
                f"{network:<10}{zip_mb:>8.1f}{json_mb:>9.1f}"
                f"{found['count']:>9}{seconds:>10.2f}{peak:>10.0f}{base_s:>13.2f}{base_peak:>10.0f}"
                f"{seconds / base_s:>8.1f}x{peak / base_peak:>10.2f}x"
            )
            print(
                f"  preview: {found['count']} likes, {found['first'] or '-'} to "
                f"{found['last'] or '-'}, {found['creators']} distinct creators, "
                f"progress called {found['progress_calls']} times"
            )
            met = found["count"] == args.likes and seconds < TARGET_SECONDS and peak < TARGET_MIB
            ok = ok and met
            print(
                f"  under {TARGET_SECONDS:.0f} s and {TARGET_MIB:.0f} MiB, every like read: "
                f"{'MET' if met else 'NOT MET'}"
            )
    print("MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
