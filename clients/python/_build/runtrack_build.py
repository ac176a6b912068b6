"""A PEP 517 build backend for the runtrack package, standard library only.

Why not setuptools: a fresh virtual environment on Debian has pip and setuptools but not
`wheel`, and setuptools (66, bookworm) cannot build a wheel without it; with build isolation pip
would download them. This backend has no requirements, so `pip install ./clients/python` works
offline in any environment. It packs src/runtrack/ (all .py files and py.typed) into a pure
py3-none-any wheel, and supports editable installs (PEP 660, a .pth file) and sdists.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # reproducible archives


def _project():
    """name, version, description, requires-python and classifiers from pyproject.toml's
    [project] table (only the simple `key = "value"` and one-line list forms used there)."""
    with open(os.path.join(_ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if not m:
        raise RuntimeError("pyproject.toml: no [project] table")
    table = m.group(1)

    def get(key):
        km = re.search(r'^%s\s*=\s*"([^"]*)"' % re.escape(key), table, re.M)
        return km.group(1) if km else None

    cm = re.search(r"^classifiers\s*=\s*\[(.*?)\]", table, re.M | re.S)
    classifiers = re.findall(r'"([^"]*)"', cm.group(1)) if cm else []
    proj = {"name": get("name"), "version": get("version"), "description": get("description"),
            "requires-python": get("requires-python"), "classifiers": classifiers}
    if not proj["name"] or not proj["version"]:
        raise RuntimeError("pyproject.toml: [project] needs name and version")
    return proj


def _metadata(proj):
    lines = ["Metadata-Version: 2.1", "Name: " + proj["name"], "Version: " + proj["version"]]
    if proj["description"]:
        lines.append("Summary: " + proj["description"])
    if proj["requires-python"]:
        lines.append("Requires-Python: " + proj["requires-python"])
    lines += ["Classifier: " + c for c in proj["classifiers"]]
    lines.append("Description-Content-Type: text/markdown")
    readme = os.path.join(_ROOT, "README.md")
    body = open(readme, encoding="utf-8").read() if os.path.exists(readme) else ""
    return "\n".join(lines) + "\n\n" + body


def _dist_info(proj):
    return "%s-%s.dist-info" % (proj["name"].replace("-", "_"), proj["version"])


def _package_files():
    """(path inside the wheel, path on disk) for every file of src/runtrack/, sorted."""
    src = os.path.join(_ROOT, "src")
    out = []
    for d, dirs, files in os.walk(os.path.join(src, "runtrack")):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py") or f == "py.typed":
                full = os.path.join(d, f)
                out.append((os.path.relpath(full, src).replace(os.sep, "/"), full))
    return out


def _write_wheel(wheel_directory, members):
    """members: (arcname, bytes). Adds WHEEL and RECORD; returns the wheel's file name."""
    proj = _project()
    info = _dist_info(proj)
    members = list(members) + [
        (info + "/METADATA", _metadata(proj).encode()),
        (info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: runtrack_build\n"
                          b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
        (info + "/top_level.txt", b"runtrack\n"),
    ]
    record = []
    for name, data in members:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
    record.append(info + "/RECORD,,")
    members.append((info + "/RECORD", ("\n".join(record) + "\n").encode()))
    name = "%s-%s-py3-none-any.whl" % (proj["name"].replace("-", "_"), proj["version"])
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in members:
            zi = zipfile.ZipInfo(arc, _ZIP_TIME)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return name


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_editable = get_requires_for_build_wheel
get_requires_for_build_sdist = get_requires_for_build_wheel


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    proj = _project()
    info = os.path.join(metadata_directory, _dist_info(proj))
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata(proj))
    with open(os.path.join(info, "WHEEL"), "w", encoding="utf-8") as f:
        f.write("Wheel-Version: 1.0\nGenerator: runtrack_build\nRoot-Is-Purelib: true\n"
                "Tag: py3-none-any\n")
    return _dist_info(proj)


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    members = []
    for arc, full in _package_files():
        with open(full, "rb") as f:
            members.append((arc, f.read()))
    return _write_wheel(wheel_directory, members)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """PEP 660: a .pth file that puts src/ on sys.path."""
    pth = (os.path.join(_ROOT, "src") + "\n").encode()
    return _write_wheel(wheel_directory, [("runtrack_editable.pth", pth)])


def build_sdist(sdist_directory, config_settings=None):
    proj = _project()
    base = "%s-%s" % (proj["name"].replace("-", "_"), proj["version"])
    name = base + ".tar.gz"
    files = ["pyproject.toml", "README.md", "_build/runtrack_build.py"]
    files += [os.path.relpath(full, _ROOT) for _, full in _package_files()]
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in files:
            t.add(os.path.join(_ROOT, rel), arcname=base + "/" + rel.replace(os.sep, "/"))
        pkg_info = _metadata(proj).encode()
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkg_info)
        t.addfile(ti, io.BytesIO(pkg_info))
    return name
