"""Download the files listed in wasi/sources.lock into a folder and check their sha256.

    python wasi/fetch.py DEST [NAME ...]

PyPI files come from the index pip is configured with (PIP_INDEX_URL or pip's default); Debian
files come through apt-get with a private state folder under DEST, pointed at unstable on the
same mirror as the system's own sources: binary packages (`deb`) with `apt-get download`, and
the upstream tarball of a source package (`debsrc`) from the address `apt-get source
--print-uris` gives, checked against the hash of the signed Sources index as well as ours
(the system has no deb-src lines, and the .dsc of some packages is missing from the mirror,
so `apt-get source` itself is not used). Nothing is installed into the system.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

LOCK = Path(__file__).with_name("sources.lock")
APT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def read_lock():
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            kind, name, version, filename, sha256 = line.split()
            yield kind, name, version, filename, sha256


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pip_index_url():
    from pip._internal.models.index import PyPI  # pip's own default, so no host is named here

    return os.environ.get("PIP_INDEX_URL", PyPI.simple_url).rstrip("/")


def fetch_pypi(name, filename, dest):
    page_url = f"{pip_index_url()}/{name}/"
    page = urllib.request.urlopen(page_url, timeout=120).read().decode()
    for href in re.findall(r'href="([^"]+)"', page):
        if href.split("#")[0].endswith("/" + filename):
            url = urllib.request.urljoin(page_url, href.split("#")[0])
            print(f"  downloading {url}", flush=True)
            with urllib.request.urlopen(url, timeout=600) as r, open(dest, "wb") as f:
                shutil.copyfileobj(r, f)
            return
    sys.exit(f"fetch: {filename} is not listed on {page_url}")


def apt_options(state, sources="sid.list"):
    """apt-get options for a private state folder (models/registry_photos.py uses one for bookworm)."""
    return [
        f"-oDir::Etc::SourceList={state}/{sources}",
        "-oDir::Etc::SourceParts=-",
        f"-oDir::State::Lists={state}/lists",
        f"-oDir::Cache={state}/cache",
        "-oDebug::NoLocking=1",
        "-oAPT::Sandbox::User=root",
    ]


def debian_mirror():
    """The first Debian mirror the system's own apt sources use."""
    for path in [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]:
        if path.exists():
            m = re.search(r"(?:URIs:\s*|^deb\s+)(\S+/debian)\b", path.read_text(), re.M)
            if m:
                return m.group(1)
    sys.exit("fetch: no Debian mirror found in /etc/apt sources")


def apt_state(folder):
    """The private apt state folder for unstable (binary and source indexes), updated once."""
    state = folder / "apt-unstable"
    sources = "".join(f"{kind} [signed-by={APT_KEYRING}] {debian_mirror()} sid main\n" for kind in ("deb", "deb-src"))
    listed = state / "sid.list"
    if not listed.exists() or listed.read_text() != sources:
        for sub in ["lists/partial", "cache/archives/partial"]:
            (state / sub).mkdir(parents=True, exist_ok=True)
        listed.write_text(sources)
        print("  apt-get update (Debian unstable, private state folder)", flush=True)
        subprocess.run(["apt-get", *apt_options(state), "-qq", "update"], check=True)
    return state


def fetch_deb(name, version, filename, folder):
    state = apt_state(folder)
    got = subprocess.run(["apt-get", *apt_options(state), "-qq", "download", f"{name}={version}"], cwd=folder)
    if got.returncode != 0:
        print(f"  WARNING: {name} {version} is gone from unstable; taking the current version", flush=True)
        subprocess.run(["apt-get", *apt_options(state), "-qq", "download", name], cwd=folder, check=True)
        newest = max(folder.glob(f"{name}_*.deb"), key=os.path.getmtime)
        newest.rename(folder / filename)
        return False
    return True


def fetch_debsrc(name, version, filename, folder):
    """The file `filename` (an upstream tarball) of source package `name`, version `version`."""
    state = apt_state(folder)

    def uris(spec):
        listing = subprocess.run(
            ["apt-get", *apt_options(state), "-qq", "source", "--print-uris", spec], capture_output=True, text=True
        )
        # lines: 'URL' FILENAME SIZE SHA256:HEX
        return {
            f: (u.strip("'"), h.split(":", 1)[1])
            for u, f, _, h in (line.split() for line in listing.stdout.splitlines() if line.startswith("'"))
        }

    files, exact, locked_name = uris(f"{name}={version}"), True, filename
    if filename not in files:
        print(f"  WARNING: source {name} {version} is gone from unstable; taking the current version", flush=True)
        files, exact = uris(name), False
        filename = next((f for f in files if ".orig.tar." in f and not f.endswith(".asc")), None)
        if filename is None:
            sys.exit(f"fetch: no upstream tarball of source package {name} in unstable")
    url, index_sha256 = files[filename]
    path = folder / locked_name  # a newer tarball takes the pinned name, as fetch_deb does
    print(f"  downloading {url}", flush=True)
    with urllib.request.urlopen(url, timeout=600) as r, open(path, "wb") as f:
        shutil.copyfileobj(r, f)
    if sha256_of(path) != index_sha256:
        path.unlink()
        sys.exit(f"fetch: {filename}: sha256 differs from Debian's signed Sources index")
    return exact


FETCHERS = {
    "pypi": lambda name, version, filename, dest: fetch_pypi(name, filename, dest / filename),
    "deb": fetch_deb,
    "debsrc": fetch_debsrc,
}


def main():
    dest = Path(sys.argv[1]).resolve()
    wanted = set(sys.argv[2:])
    dest.mkdir(parents=True, exist_ok=True)
    for kind, name, version, filename, sha256 in read_lock():
        if wanted and name not in wanted:
            continue
        path = dest / filename
        if path.exists() and (kind == "deb" or sha256_of(path) == sha256):
            continue
        print(f"fetch: {name} {version}", flush=True)
        exact = FETCHERS[kind](name, version, filename, dest)
        if exact is not False and sha256_of(path) != sha256:
            path.unlink()
            sys.exit(f"fetch: {filename}: sha256 mismatch (expected {sha256})")


if __name__ == "__main__":
    main()
