#!/usr/bin/env python3
"""Structure check of the C tree: no include cycle between units, no function over 120 lines,
and each consumer part includes only the parts it may use.

    check_structure.py [--root DIR] [--max-lines N]

Prints one line per finding and exits 1 when there is any, 0 when the tree is clean (2 on a
usage error). Python 3 standard library only: it runs in `make test` on a fresh machine.

Units. A file's unit is its path without the extension, so x.c and x.h of one folder are one
unit. A header with no .c beside it (producer/cli/cli.h) belongs to the units whose .c files
define the functions it declares; a header that declares none (types, macros) is a unit of its
own. Unit A depends on unit B when a file of A includes a header of B; a cycle is any loop in
that graph (A includes B's header while B includes A's, or longer).

Includes are resolved as the compiler does: first beside the including file, then in the
include directories the build gives (INCLUDE_DIRS below, kept in step with the CMakeLists).
An include that resolves to no file of the tree (a system or generated header) is no edge.

Function length counts from the line holding the function's name to the line of its closing
brace (as ctags' line/end fields do), for every function definition in .c files and for
static inline ones in headers.
"""
import argparse
import os
import re
import sys

# Folders whose C files are checked. Function length: the shipped code. Include cycles: every C
# file we build (tests and benchmarks too: a cycle there is as confusing as anywhere).
LENGTH_DIRS = ["producer", "consumer", "common"]
CYCLE_DIRS = ["producer", "consumer", "common", "deploy/devbroker", "bench", "tests"]

# The include directories the build passes (-I), in the order a lookup tries them. From
# common/CMakeLists.txt (common), consumer/CMakeLists.txt (consumer: "ingest/batch.h",
# "config.h"), consumer/api/CMakeLists.txt (api/web), producer/CMakeLists.txt (include, src),
# and tests/*.cmake (tests, tests/lib).
INCLUDE_DIRS = ["common", "consumer", "consumer/api/web", "producer/include", "producer/src",
                "tests", "tests/lib"]

MAX_LINES = 120

# Layering: which part may include which. A file's part is the longest prefix below that its
# path starts with; it may include headers of its own part and of the parts listed. Each rule
# follows the link graph of the CMakeLists (rt_ingest and rt_api link rt_db and rt_core;
# rt_db links rt_core; nothing links rt_api or rt_ingest but the binary), so a header include
# never reaches a library the part does not link. Parts not listed are not checked.
PARTS = {
    "common": [],
    "producer": ["common"],
    "consumer": ["common"],                    # top level: config, log, metrics, ready
    "consumer/main.c": ["consumer", "consumer/ingest", "consumer/db", "consumer/api", "common"],
    "consumer/db": ["consumer", "common"],
    "consumer/ingest": ["consumer", "common"],
    "consumer/api": ["consumer", "consumer/db", "common"],
}

C_KEYWORDS = {
    "if", "for", "while", "switch", "return", "sizeof", "do", "else", "case", "goto",
    "_Alignof", "_Generic", "_Static_assert", "__attribute__", "__typeof__", "typeof",
    "defined", "alignof", "static_assert",
}

IDENT_RE = re.compile(r"[A-Za-z_]\w*")
INCLUDE_RE = re.compile(r'^\s*include\s*"([^"]+)"')


class Token:
    __slots__ = ("text", "line")

    def __init__(self, text, line):
        self.text = text
        self.line = line


def lex(src):
    """Splits C source into tokens (identifiers, numbers, punctuation; string and char literals
    as one token "STR") and preprocessor directives (line, text without the '#', continuation
    lines joined). Comments vanish. Code in #if 0 ... #endif (its #else branch kept) is dropped,
    since the compiler never sees it."""
    toks, directives = [], []
    i, n, line = 0, len(src), 1
    at_line_start = True
    skip_depth = 0   # > 0 inside #if 0: nesting depth of conditionals since
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
            at_line_start = True
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if c == "\\" and i + 1 < n and src[i + 1] == "\n":
            i += 2
            line += 1
            continue
        if c == "/" and src.startswith("/*", i):
            end = src.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += src.count("\n", i, end)
            i = end
            continue
        if c == "/" and src.startswith("//", i):
            while i < n and src[i] != "\n":
                i += 2 if src.startswith("\\\n", i) else 1
            continue
        if c == "#" and at_line_start:
            start_line = line
            text, i, line = read_directive(src, i + 1, line)
            d = text.strip()
            word = IDENT_RE.match(d)
            word = word.group(0) if word else ""
            if skip_depth:
                if word in ("if", "ifdef", "ifndef"):
                    skip_depth += 1
                elif word == "endif" or (skip_depth == 1 and word in ("else", "elif")):
                    skip_depth -= 1
                continue
            if word == "if" and re.fullmatch(r"if\s*0", d):
                skip_depth = 1
                continue
            directives.append((start_line, d))
            continue
        at_line_start = False
        if skip_depth:
            # Inside #if 0: skip the text, but still honour literals so a '#' in a string is
            # not read as a directive.
            if c in "\"'":
                i, line = skip_literal(src, i, line)
            else:
                i += 1
            continue
        if c in "\"'":
            start_line = line
            i, line = skip_literal(src, i, line)
            toks.append(Token("STR", start_line))
            continue
        m = IDENT_RE.match(src, i)
        if m:
            toks.append(Token(m.group(0), line))
            i = m.end()
            continue
        if c.isdigit():
            j = i + 1
            while j < n and (src[j].isalnum() or src[j] in "._" or
                             (src[j] in "+-" and src[j - 1] in "eEpP")):
                j += 1
            toks.append(Token("NUM", line))
            i = j
            continue
        toks.append(Token(c, line))
        i += 1
    return toks, directives


def read_directive(src, i, line):
    """Reads a preprocessor directive from i (after '#') to its end of line, joining '\\'
    continuations and dropping comments. Returns (text, next index, line number there)."""
    out, n = [], len(src)
    while i < n:
        c = src[i]
        if c == "\n":
            break
        if c == "\\" and i + 1 < n and src[i + 1] == "\n":
            i += 2
            line += 1
            continue
        if src.startswith("/*", i):
            end = src.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += src.count("\n", i, end)
            i = end
            out.append(" ")
            continue
        if src.startswith("//", i):
            while i < n and src[i] != "\n":
                i += 2 if src.startswith("\\\n", i) else 1
            break
        if c in "\"'":
            j, line = skip_literal(src, i, line)
            out.append(src[i:j])
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out), i, line


def skip_literal(src, i, line):
    """Skips the string or char literal starting at i. Returns (index after it, line there)."""
    q, n = src[i], len(src)
    i += 1
    while i < n:
        c = src[i]
        if c == "\\":
            if i + 1 < n and src[i + 1] == "\n":
                line += 1
            i += 2
            continue
        if c == q:
            return i + 1, line
        if c == "\n":          # unterminated: stop at the end of the line as the compiler does
            return i, line
        i += 1
    return i, line


def functions(toks):
    """Yields (name, name line, end line, is_static_inline) for each function definition at file
    scope. A '{' at depth 0 opens a function body when the declaration before it (since the last
    ';' or '}' at depth 0) ends in a parameter list, optionally followed by attributes, and has
    no '=' outside parentheses (that would be an initialiser: a table, not a function)."""
    depth, chunk_start, i, n = 0, 0, 0, len(toks)
    while i < n:
        t = toks[i].text
        if depth == 0 and t == ";":
            chunk_start = i + 1
        elif t == "{":
            if depth == 0:
                fn = declared_function(toks, chunk_start, i)
                close = matching(toks, i)
                if close is None:   # unbalanced to the end of the file
                    close = n - 1
                if fn is not None:
                    name_tok, chunk = fn
                    words = {tk.text for tk in chunk}
                    yield (name_tok.text, name_tok.line, toks[min(close, n - 1)].line,
                           "static" in words and ("inline" in words or "__inline__" in words))
                i = close + 1
                # what follows a body ends its declaration ("struct s {..} v;" still ends at ';')
                if fn is not None:
                    chunk_start = i
                continue
            depth += 1
        elif t == "}":
            depth = max(0, depth - 1)
        i += 1


def matching(toks, i, step=1):
    """Index of the bracket matching toks[i] ('{' or '(' going forward with step 1, '}' or ')'
    going back with step -1), or None when it is unbalanced."""
    pairs = {"{": "}", "(": ")", "}": "{", ")": "("}
    here, there = toks[i].text, pairs[toks[i].text]
    depth = 0
    while 0 <= i < len(toks):
        t = toks[i].text
        if t == here:
            depth += 1
        elif t == there:
            depth -= 1
            if depth == 0:
                return i
        i += step
    return None


def declared_function(toks, start, brace):
    """Returns (name token, declaration tokens) when toks[start:brace] declares a function whose
    body opens at brace, else None."""
    chunk = toks[start:brace]
    if not chunk:
        return None
    pdepth = 0
    for tk in chunk:
        if tk.text == "(":
            pdepth += 1
        elif tk.text == ")":
            pdepth -= 1
        elif pdepth == 0 and tk.text == "=":
            return None
    # Drop trailing attributes: __attribute__((...)) and the like after the parameter list.
    end = len(chunk)
    while end >= 2 and chunk[end - 1].text == ")":
        open_i = matching(chunk, end - 1, -1)
        if open_i is None:
            return None
        if open_i >= 1 and chunk[open_i - 1].text in ("__attribute__", "__declspec", "__asm__",
                                                      "asm", "__asm"):
            end = open_i - 1
            continue
        break
    if end < 2 or chunk[end - 1].text != ")":
        return None
    open_i = matching(chunk, end - 1, -1)
    if open_i is None or open_i == 0:
        return None
    name = chunk[open_i - 1]
    if name.text == ")":
        # A function returning a function pointer: int (*f(int x))(void) -> the name is inside.
        inner_close = open_i - 1
        inner_open = matching(chunk, inner_close, -1)
        if inner_open is None:
            return None
        inner = chunk[inner_open + 1:inner_close]
        for k in range(len(inner) - 1):
            if IDENT_RE.fullmatch(inner[k].text) and inner[k + 1].text == "(":
                return inner[k], chunk
        return None
    if not IDENT_RE.fullmatch(name.text) or name.text in C_KEYWORDS:
        return None
    return name, chunk


def declared_names(toks):
    """Names followed by '(' at brace depth 0 outside bodies: what a header declares (or calls
    in a macro-free context). Used to find which .c files a header with no .c belongs to."""
    out, depth = set(), 0
    for k, tk in enumerate(toks):
        if tk.text == "{":
            depth += 1
        elif tk.text == "}":
            depth -= 1
        elif depth == 0 and k + 1 < len(toks) and toks[k + 1].text == "(" and \
                IDENT_RE.fullmatch(tk.text) and tk.text not in C_KEYWORDS:
            out.add(tk.text)
    return out


def c_files(root, dirs):
    out = []
    for d in dirs:
        top = os.path.join(root, d)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(x for x in dirnames if not x.startswith(".") and
                                 not x.startswith("build"))
            for f in sorted(filenames):
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(set(out))


class Tree:
    """The parsed C files of one root."""

    def __init__(self, root):
        self.root = root
        self.parsed = {}

    def parse(self, rel):
        if rel not in self.parsed:
            with open(os.path.join(self.root, rel), encoding="utf-8", errors="replace") as f:
                self.parsed[rel] = lex(f.read())
        return self.parsed[rel]

    def resolve(self, including, target):
        """The tree file that #include "target" in file including names, or None."""
        cands = [os.path.join(os.path.dirname(including), target)]
        cands += [os.path.join(d, target) for d in INCLUDE_DIRS]
        for c in cands:
            c = os.path.normpath(c)
            if os.path.isfile(os.path.join(self.root, c)):
                return c
        return None


def check_length(tree, files, max_lines):
    findings = []
    for rel in files:
        toks, _ = tree.parse(rel)
        is_header = rel.endswith(".h")
        for name, first, last, static_inline in functions(toks):
            if is_header and not static_inline:
                continue
            n = last - first + 1
            if n > max_lines:
                findings.append("%s:%d: function %s is %d lines (max %d)" %
                                (rel, first, name, n, max_lines))
    return findings


def include_edges(tree, files):
    """[(including file, included tree file, line)] for every #include "..." that resolves."""
    edges = []
    for rel in files:
        _, directives = tree.parse(rel)
        for line, d in directives:
            m = INCLUDE_RE.match(d)
            if m:
                tgt = tree.resolve(rel, m.group(1))
                if tgt is not None:
                    edges.append((rel, tgt, line))
    return edges


def header_users(tree, files):
    """For each header with no .c beside it (producer/cli/cli.h): {function it declares: units
    whose .c defines it}. Such a header is shared by several .c files; including it depends on
    the ones whose functions the includer calls, not on all of them."""
    fileset = set(files)
    defined = {}   # function name -> units whose .c defines it
    for rel in files:
        if rel.endswith(".c"):
            toks, _ = tree.parse(rel)
            for name, _, _, _ in functions(toks):
                defined.setdefault(name, set()).add(rel[:-2])
    out = {}
    for rel in files:
        if rel.endswith(".h") and rel[:-2] + ".c" not in fileset:
            toks, _ = tree.parse(rel)
            out[rel] = {f: defined[f] for f in declared_names(toks) if f in defined}
    return out


def unit_label(unit, files):
    """Names a unit by its files: "consumer/db/maintenance.{c,h}"."""
    exts = [e for e in ("c", "h") if unit + "." + e in files]
    if len(exts) == 2:
        return unit + ".{c,h}"
    return unit + "." + (exts[0] if exts else "h")


def check_cycles(tree, files):
    fileset = set(files)
    shared = header_users(tree, files)
    graph, why = {}, {}

    def edge(a, b, reason):
        if a != b:
            graph.setdefault(a, set()).add(b)
            why.setdefault((a, b), reason)

    for src, tgt, line in include_edges(tree, files):
        if tgt not in fileset:
            continue
        a, reason = src[:-2], "%s:%d includes %s" % (src, line, tgt)
        edge(a, tgt[:-2], reason)
        if tgt in shared:
            used = {tk.text for tk in tree.parse(src)[0]}
            for fn, units in sorted(shared[tgt].items()):
                if fn in used:
                    for b in units:
                        edge(a, b, "%s:%d includes %s and calls %s" % (src, line, tgt, fn))
    findings = []
    for comp in strongly_connected(graph):
        if len(comp) < 2:
            continue
        for cyc in elementary_cycles(graph, comp, limit=20):
            path = " -> ".join(unit_label(u, fileset) for u in cyc + [cyc[0]])
            steps = "; ".join(why[(cyc[k], cyc[(k + 1) % len(cyc)])] for k in range(len(cyc)))
            findings.append("include cycle: %s (%s)" % (path, steps))
    return findings


def strongly_connected(graph):
    """Tarjan's algorithm, iterative. Returns the components as sorted lists, sorted."""
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
    nodes = sorted(set(graph) | {b for bs in graph.values() for b in bs})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp))
    return sorted(comps)


def elementary_cycles(graph, comp, limit):
    """Each simple cycle inside one component once (starting at its smallest unit), at most
    limit of them: enough to show what to cut."""
    members, out = set(comp), []
    for start in comp:
        # only cycles whose smallest unit is start, so each is found once
        allowed = {u for u in members if u >= start}
        stack = [(start, [start])]
        while stack and len(out) < limit:
            v, path = stack.pop()
            for w in sorted(graph.get(v, ()), reverse=True):
                if w == start:
                    out.append(path)
                elif w in allowed and w not in path:
                    stack.append((w, path + [w]))
    return out[:limit]


def part_of(rel):
    best = None
    for p in PARTS:
        if rel == p or rel.startswith(p + "/"):
            if best is None or len(p) > len(best):
                best = p
    return best


def check_layers(tree, files):
    findings = []
    for src, tgt, line in include_edges(tree, files):
        a, b = part_of(src), part_of(tgt)
        if a is None or b is None or a == b or b in PARTS[a]:
            continue
        findings.append("%s:%d: layering: %s/ may not include %s (%s)" %
                        (src, line, a, tgt, b + "/"))
    return findings


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", ".."),
                    help="tree to check (default: this checkout)")
    ap.add_argument("--max-lines", type=int, default=MAX_LINES)
    args = ap.parse_args(argv)
    root = os.path.abspath(args.root)
    tree = Tree(root)
    length_files = c_files(root, LENGTH_DIRS)
    cycle_files = c_files(root, CYCLE_DIRS)
    if not length_files:
        print("check_structure: no C files under %s in %s" % (", ".join(LENGTH_DIRS), root),
              file=sys.stderr)
        return 2
    findings = check_length(tree, length_files, args.max_lines)
    findings += check_cycles(tree, cycle_files)
    findings += check_layers(tree, length_files)
    for f in findings:
        print(f)
    print("check_structure: %d files, %d finding(s)" % (len(cycle_files), len(findings)))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
