#!/usr/bin/env python3
"""Self-test of check_structure.py: runs it on small trees planted in a temp dir and checks that
it fails exactly where it should (an include cycle, a 121-line function, a layering breach) and
passes where it should (a 120-line function, braces in strings, comments and preprocessor lines,
file-scope initialiser tables). Prints "N passed, N failed"; exits 1 on any failure."""
import os
import subprocess
import sys
import tempfile

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_structure.py")

results = {"passed": 0, "failed": 0}


def plant(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def run(files):
    """Plants files (plus one file in each checked folder, so the tree is never empty) and runs
    the checker on it. Returns (exit code, output)."""
    base = {"common/rt_x.h": "#ifndef RT_X_H\n#define RT_X_H\nint rt_x(void);\n#endif\n",
            "common/rt_x.c": '#include "rt_x.h"\nint rt_x(void) { return 0; }\n'}
    base.update(files)
    with tempfile.TemporaryDirectory() as root:
        plant(root, base)
        p = subprocess.run([sys.executable, CHECKER, "--root", root], capture_output=True,
                           text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr


def case(name, files, rc, expect=(), absent=()):
    """One planted tree: the checker must exit rc, print every line fragment of expect and
    none of absent."""
    got_rc, out = run(files)
    problems = []
    if got_rc != rc:
        problems.append("exit %d, expected %d" % (got_rc, rc))
    problems += ["missing %r" % e for e in expect if e not in out]
    problems += ["unexpected %r" % a for a in absent if a in out]
    if problems:
        results["failed"] += 1
        print("FAIL %s: %s\n--- output:\n%s---" % (name, "; ".join(problems), out))
    else:
        results["passed"] += 1
        print("ok   %s" % name)


def body(n, filler="    x++;\n"):
    """A function definition of exactly n lines, name line to closing brace, K&R braces for
    functions (brace on its own line)."""
    assert n >= 4
    return "int f%d(void)\n{\n    int x = 0;\n" % n + filler * (n - 4) + "}\n"


def main():
    case("120-line function passes", {"producer/a.c": body(120)}, 0, absent=["function"])

    case("121-line function fails with its line and length",
         {"producer/a.c": "/* header */\n\n" + body(121)}, 1,
         expect=["producer/a.c:3: function f121 is 121 lines (max 120)"])

    case("static inline in a header counts; plain prototypes do not",
         {"consumer/x.h": "int proto(int a);\nstatic inline int " + body(121)[4:]}, 1,
         expect=["consumer/x.h:2: function f121 is 121 lines (max 120)"])

    # Braces inside strings, char literals, comments and preprocessor lines must not shift the
    # end of a function: each variant is exactly 120 (passes) and its 121 twin fails.
    tricky = ('    const char *s = "}}} { \\" }";\n'
              "    char c = '}';\n"
              "    /* } } */\n"
              "    // }\n"
              "#define CLOSE }\n"
              "#if 0\n"
              "    }\n"
              "#endif\n")
    tricky_lines = tricky.count("\n")

    def tricky_fn(n):
        return "int tricky(void)\n{\n" + tricky + "    int x = 0;\n" + \
            "    x++;\n" * (n - 4 - tricky_lines) + "}\n"

    case("braces in strings, chars, comments, #define and #if 0 (120 lines)",
         {"consumer/t.c": tricky_fn(120) + "int after(void)\n{\n    return '{';\n}\n"}, 0,
         absent=["function"])
    case("braces in strings, chars, comments, #define and #if 0 (121 lines)",
         {"consumer/t.c": tricky_fn(121)}, 1, expect=["function tricky is 121 lines"])

    table = ("#define COLORS(X) X(red, 1) X(green, 2) X(blue, 3)\n"
             "#define X_ENTRY(n, v) {#n, v},\n"
             "static const struct { const char *name; int v; } colors[] = {COLORS(X_ENTRY)};\n"
             "struct big { int a; };\n"
             "static const struct big bigs[] =\n{\n" + "    {1},\n" * 200 + "};\n"
             "static const int nums[][2] = {\n" + "    {1, 2},\n" * 200 + "};\n"
             "#define NAME_FN(fn) int fn(void) { return 0; }\n"
             "NAME_FN(one)\n"
             "NAME_FN(two)\n")
    case("file-scope initialiser tables and X-macros are not functions",
         {"common/tables.c": table}, 0, absent=["function"])

    case("attributes and a function returning a function pointer",
         {"producer/p.c": "static int (*pick(int k))(void)\n{\n" + "    k++;\n" * 118 + "}\n"
          "__attribute__((unused)) static void g(void) __attribute__((cold));\n"}, 1,
         expect=["function pick is 121 lines"])

    case("include cycle a.h -> b.h -> a.h",
         {"common/a.h": '#include "b.h"\n', "common/b.h": '#include "a.h"\n'}, 1,
         expect=["include cycle: common/a.h -> common/b.h -> common/a.h"])

    case("x.c and x.h are one unit: a.c includes b.h, b.c includes a.h",
         {"consumer/a.h": "void a(void);\n", "consumer/a.c": '#include "a.h"\n#include "b.h"\n',
          "consumer/b.h": "void b(void);\n", "consumer/b.c": '#include "b.h"\n#include "a.h"\n'},
         1, expect=["include cycle: consumer/a.{c,h} -> consumer/b.{c,h} -> consumer/a.{c,h}"])

    case("a longer loop a -> b -> c -> a",
         {"consumer/a.h": '#include "b.h"\n', "consumer/b.h": '#include "c.h"\n',
          "consumer/c.h": "void c(void);\n", "consumer/c.c": '#include "a.h"\n'}, 1,
         expect=["consumer/a.h -> consumer/b.h -> consumer/c.{c,h} -> consumer/a.h"])

    case("a header with no .c belongs to the files whose functions the includer calls",
         {"producer/cli/cli.h": "void cli_err(void);\nint cli_wrap(void);\n",
          "producer/cli/main.c": '#include "cli.h"\nvoid cli_err(void) {}\n'
                                 "int main(void) { return cli_wrap(); }\n",
          "producer/cli/wrap.c": '#include "cli.h"\nint cli_wrap(void) { cli_err(); '
                                 "return 0; }\n"}, 1,
         expect=["include cycle: producer/cli/main.c -> producer/cli/wrap.c -> "
                 "producer/cli/main.c"])

    case("a shared header used one way only is no cycle",
         {"producer/src/internal.h": "void seterr(void);\nvoid conf_kafka(void);\n"
                                     "void test_hook(void);\n",
          "producer/src/conf.c": '#include "internal.h"\nvoid seterr(void) {}\n'
                                 "void conf_kafka(void) { seterr(); }\n",
          "producer/src/client.c": '#include "internal.h"\nvoid test_hook(void) '
                                   "{ conf_kafka(); }\n"}, 0, absent=["cycle"])

    case("includes resolve beside the file first, then in the build's include dirs",
         {"consumer/config.h": "int cfg;\n",
          "consumer/ingest/batch.h": '#include "config.h"\n',
          "consumer/ingest/config.h": '#include "batch.h"\n',
          "consumer/main.c": '#include "ingest/batch.h"\n#include "config.h"\n'}, 1,
         expect=["include cycle: consumer/ingest/batch.h -> consumer/ingest/config.h"],
         absent=["consumer/config.h ->", "-> consumer/config.h"])

    case("system and generated headers are no edge; a commented or #if 0 include is ignored",
         {"consumer/a.c": '#include <stdio.h>\n#include "web_assets_gen.h"\n#include "b.h"\n',
          "consumer/b.h": '/* #include "a.h" */\n#if 0\n#include "a.h"\n#endif\n'}, 0,
         absent=["cycle"])

    case("layering: db/ may not include api/",
         {"consumer/api/http_api.h": "typedef int conf_t;\n",
          "consumer/db/maint.h": '#include "api/http_api.h"\n'}, 1,
         expect=["consumer/db/maint.h:1: layering: consumer/db/ may not include "
                 "consumer/api/http_api.h"])

    case("layering: producer/ may not include consumer/",
         {"consumer/log.h": "void rt_log(void);\n",
          "producer/src/client.c": '#include "log.h"\n'}, 1,
         expect=["producer/src/client.c:1: layering: producer/ may not include consumer/log.h"])

    case("layering: api/ may include db/ and the top level",
         {"consumer/metrics.h": "int m;\n", "consumer/db/migrate.h": "int mig;\n",
          "consumer/api/h.c": '#include "db/migrate.h"\n#include "metrics.h"\n'}, 0,
         absent=["layering"])

    print("structure selftest: %d passed, %d failed" % (results["passed"], results["failed"]))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
