"""Builds py_chronolog_client._core against the installed C library, found with pkg-config:
install ChronoLog-Swift first (scripts/install.sh --prefix DIR) and set
PKG_CONFIG_PATH=DIR/lib/pkgconfig when DIR is not a standard prefix."""
import shlex
import subprocess

from setuptools import Extension, setup


def chronolog_flags():
    try:
        out = subprocess.run(["pkg-config", "--cflags", "--libs", "chronolog"], check=True, capture_output=True,
                             text=True).stdout
    except FileNotFoundError:
        raise SystemExit("py_chronolog_client: pkg-config is not installed (apt-get install pkg-config)")
    except subprocess.CalledProcessError as e:
        raise SystemExit("py_chronolog_client: pkg-config cannot find chronolog: install ChronoLog-Swift with "
                         "scripts/install.sh --prefix DIR and set PKG_CONFIG_PATH=DIR/lib/pkgconfig\n" + e.stderr)
    flags = {"include_dirs": [], "library_dirs": [], "libraries": [], "extra_compile_args": [], "extra_link_args": []}
    for word in shlex.split(out):
        if word.startswith("-I"):
            flags["include_dirs"].append(word[2:])
        elif word.startswith("-L"):
            flags["library_dirs"].append(word[2:])
        elif word.startswith("-l"):
            flags["libraries"].append(word[2:])
        elif word.startswith("-Wl,") or word == "-pthread":
            flags["extra_link_args"].append(word)
        else:
            flags["extra_compile_args"].append(word)
    flags["extra_compile_args"] += ["-std=c99", "-O2"]
    return flags


setup(ext_modules=[Extension("py_chronolog_client._core", ["py_chronolog_client/_core.c"], **chronolog_flags())])
