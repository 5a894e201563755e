// tasks_code_strings.c — code task families on strings: counting letters, joining copies,
// reversing words, Caesar shifts, run-length encoding, bracket balance, the most common
// word, pattern counting, weighted edit distance.
#include <string.h>

#include "verify/tasks_code.h"

#define STR_MAX 128

static const char *const SEPARATORS[] = {"", " ", "-", ", ", "+", "|", "::"};
#define N_SEPARATORS 7

// ---- count_letters(s): level 1 ----------------------------------------------------------------
// p[0] bitmask of letters (bit i = 'a' + i), 2..6 letters

static int mask_letters(int64_t mask, char *out) {
    int n = 0;
    for (int i = 0; i < 26; i++)
        if (mask >> i & 1) out[n++] = (char)('a' + i);
    out[n] = 0;
    return n;
}
static void letters_params(uint64_t *g, int64_t *p) {
    int want = (int)tb_range(g, 2, 6);
    p[0] = 0;
    while (__builtin_popcountll((unsigned long long)p[0]) < want) p[0] |= (int64_t)1 << tb_range(g, 0, 25);
}
static void letters_spec(bbuf *o, const int64_t *p) {
    char set[27];
    int n = mask_letters(p[0], set);
    tb_puts(o, "returns how many characters of the string s are one of the letters ");
    for (int i = 0; i < n; i++) tb_printf(o, "%s%c", i == 0 ? "" : i == n - 1 ? " and " : ", ", set[i]);
}
static void letters_plan(bbuf *o, const int64_t *p) {
    char set[27];
    mask_letters(p[0], set);
    tb_step(o);
    tb_printf(o, "Go through s and count the characters that occur in \"%s\".\n", set);
}
static void letters_code(bbuf *o, const int64_t *p) {
    char set[27];
    mask_letters(p[0], set);
    tb_printf(o, "def count_letters(s):\n    return sum(1 for ch in s if ch in \"%s\")\n", set);
}
static void letters_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    char set[27], s[STR_MAX];
    mask_letters(p[0], set);
    // Half of the letters come from the set, so counts are not all zero.
    int n = k == 0 ? 0 : (int)tb_range(g, 1, 30), count = 0;
    for (int i = 0; i < n; i++) {
        int r = (int)tb_range(g, 0, 9);
        s[i] = r < 4 ? set[tb_range(g, 0, (int64_t)strlen(set) - 1)] : r < 5 ? ' ' : (char)('a' + tb_range(g, 0, 25));
        count += s[i] != ' ' && strchr(set, s[i]) != NULL;
    }
    py_str(call, s, (size_t)n);
    py_int(expect, count);
}

// ---- repeat_join(s): level 1 ------------------------------------------------------------------
// p[0] copies 2..6, p[1] separator index

static void repeat_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 2, 6);
    p[1] = tb_range(g, 0, N_SEPARATORS - 1);
}
static void repeat_spec(bbuf *o, const int64_t *p) {
    if (p[1] == 0) tb_printf(o, "returns the string s repeated %lld times", (long long)p[0]);
    else tb_printf(o, "returns %lld copies of the string s with \"%s\" between consecutive copies", (long long)p[0], SEPARATORS[p[1]]);
}
static void repeat_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    if (p[1] == 0) tb_printf(o, "Multiplying a string by %lld repeats it.\n", (long long)p[0]);
    else tb_printf(o, "Join a list of %lld copies of s with the separator \"%s\".\n", (long long)p[0], SEPARATORS[p[1]]);
}
static void repeat_code(bbuf *o, const int64_t *p) {
    if (p[1] == 0) tb_printf(o, "def repeat_join(s):\n    return s * %lld\n", (long long)p[0]);
    else tb_printf(o, "def repeat_join(s):\n    return \"%s\".join([s] * %lld)\n", SEPARATORS[p[1]], (long long)p[0]);
}
static void repeat_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    char s[8];
    int n = k == 0 ? 0 : (int)tb_range(g, 1, 5);
    for (int i = 0; i < n; i++) s[i] = (char)('a' + tb_range(g, 0, 25));
    py_str(call, s, (size_t)n);
    char out[STR_MAX];
    int len = 0, seplen = (int)strlen(SEPARATORS[p[1]]);
    for (int c = 0; c < p[0]; c++) {
        if (c) {
            memcpy(out + len, SEPARATORS[p[1]], (size_t)seplen);
            len += seplen;
        }
        memcpy(out + len, s, (size_t)n);
        len += n;
    }
    py_str(expect, out, (size_t)len);
}

// ---- reverse_words(s): level 2 ----------------------------------------------------------------
// p[0] mode (0 word order, 1 letters of each word, 2 both), p[1] separator index 1..5, p[2] min length 1..4

static const char *const WORD_SEPS[] = {" ", "-", "_", ",", "/"};

static void rw_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 0, 2);
    p[1] = tb_range(g, 0, 4);
    p[2] = tb_range(g, 1, 4);
}
static void rw_spec(bbuf *o, const int64_t *p) {
    tb_puts(o, "takes a string s of words separated by single spaces, ");
    if (p[2] > 1) tb_printf(o, "drops the words shorter than %lld letters, ", (long long)p[2]);
    tb_puts(o, p[0] == 0 ? "reverses the order of the words" : p[0] == 1 ? "reverses the letters of each word" : "reverses the order of the words and the letters of each word");
    tb_printf(o, ", and returns the words joined by \"%s\"", WORD_SEPS[p[1]]);
}
static void rw_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    if (p[2] > 1) tb_printf(o, "Split s into words and keep those with at least %lld letters.\n", (long long)p[2]);
    else tb_puts(o, "Split s into words.\n");
    tb_step(o);
    tb_printf(o, "%s, then join with \"%s\".\n",
              p[0] == 0 ? "Reverse the list" : p[0] == 1 ? "Reverse each word with w[::-1]" : "Reverse the list and each word", WORD_SEPS[p[1]]);
}
static void rw_code(bbuf *o, const int64_t *p) {
    tb_puts(o, "def reverse_words(s):\n");
    if (p[2] > 1) tb_printf(o, "    words = [w for w in s.split() if len(w) >= %lld]\n", (long long)p[2]);
    else tb_puts(o, "    words = s.split()\n");
    if (p[0] != 1) tb_puts(o, "    words = words[::-1]\n");
    if (p[0] != 0) tb_puts(o, "    words = [w[::-1] for w in words]\n");
    tb_printf(o, "    return \"%s\".join(words)\n", WORD_SEPS[p[1]]);
}
static void rw_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    char s[STR_MAX];
    int n = k == 0 ? (s[0] = 0, 0) : rand_words(g, s, sizeof s, 6, 1, 6, "abcdefghijklmnopqrstuvwxyz");
    py_str(call, s, (size_t)n);
    const char *w[16];
    int wl[16], nw = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && s[j] != ' ') j++;
        if (j - i >= p[2]) {
            w[nw] = s + i;
            wl[nw++] = j - i;
        }
        i = j + 1;
    }
    char out[STR_MAX];
    int len = 0;
    for (int a = 0; a < nw; a++) {
        int idx = p[0] == 1 ? a : nw - 1 - a;
        if (a) out[len++] = WORD_SEPS[p[1]][0];  // every separator here is one character
        for (int c = 0; c < wl[idx]; c++) out[len++] = p[0] == 0 ? w[idx][c] : w[idx][wl[idx] - 1 - c];
    }
    py_str(expect, out, (size_t)len);
}

// ---- caesar(s): level 3 -----------------------------------------------------------------------
// p[0] shift 1..25, p[1] upper-case the result

static void caesar_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 1, 25);
    p[1] = tb_range(g, 0, 1);
}
static void caesar_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "shifts every lowercase letter of s forward by %lld places in the alphabet, wrapping around from z to a, leaves all other characters unchanged", (long long)p[0]);
    tb_puts(o, p[1] ? ", and returns the result in upper case" : ", and returns the result");
}
static void caesar_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_printf(o, "For a letter ch, (ord(ch) - ord(\"a\") + %lld) %% 26 is the new position in the alphabet.\n", (long long)p[0]);
    if (p[1]) {
        tb_step(o);
        tb_puts(o, "Upper-case the joined result.\n");
    }
}
static void caesar_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def caesar(s):\n"
              "    out = []\n"
              "    for ch in s:\n"
              "        if \"a\" <= ch <= \"z\":\n"
              "            ch = chr((ord(ch) - ord(\"a\") + %lld) %% 26 + ord(\"a\"))\n"
              "        out.append(ch)\n"
              "    return \"\".join(out)%s\n",
              (long long)p[0], p[1] ? ".upper()" : "");
}
static void caesar_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz   .,!?XYZ";
    char s[32], out[32];
    int n = k == 0 ? 0 : k == 1 ? 3 : (int)tb_range(g, 1, 24);
    for (int i = 0; i < n; i++) s[i] = k == 1 ? "xyz"[i] : alphabet[tb_range(g, 0, (int64_t)sizeof alphabet - 2)];
    for (int i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') c = (char)('a' + (c - 'a' + p[0]) % 26);
        if (p[1] && c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
        out[i] = c;
    }
    py_str(call, s, (size_t)n);
    py_str(expect, out, (size_t)n);
}

// ---- run_length(s): level 3 -------------------------------------------------------------------
// p[0] count before the character, p[1] leave out counts of 1

static void rle_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 0, 1);
    p[1] = tb_range(g, 0, 1);
}
static void rle_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns the run-length encoding of the string of letters s: each maximal run of equal characters becomes %s",
              p[0] ? "the length of the run followed by the character" : "the character followed by the length of the run");
    if (p[1]) tb_puts(o, ", except that a run of length 1 is written as just the character");
}
static void rle_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "Walk through s with an index i; advance j while s[j] == s[i] to find the run's length j - i.\n");
    tb_step(o);
    tb_printf(o, "Append %s for each run%s, then move i to j.\n", p[0] ? "the length then the character" : "the character then the length",
              p[1] ? " (only the character when the length is 1)" : "");
}
static void rle_code(bbuf *o, const int64_t *p) {
    tb_puts(o,
            "def run_length(s):\n"
            "    out = []\n"
            "    i = 0\n"
            "    while i < len(s):\n"
            "        j = i\n"
            "        while j < len(s) and s[j] == s[i]:\n"
            "            j += 1\n");
    const char *piece = p[0] ? "str(j - i) + s[i]" : "s[i] + str(j - i)";
    if (p[1]) tb_printf(o, "        out.append(s[i] if j - i == 1 else %s)\n", piece);
    else tb_printf(o, "        out.append(%s)\n", piece);
    tb_puts(o, "        i = j\n    return \"\".join(out)\n");
}
static void rle_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    char s[STR_MAX], out[STR_MAX];
    int n = 0;
    int runs = k == 0 ? 0 : (int)tb_range(g, 1, 6);
    for (int r = 0; r < runs; r++) {
        char c = (char)('a' + tb_range(g, 0, 3));
        int len = tb_chance(g, 15) ? (int)tb_range(g, 10, 13) : (int)tb_range(g, 1, 4);
        for (int i = 0; i < len; i++) s[n++] = c;
    }
    int len = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && s[j] == s[i]) j++;
        char num[16];
        int nl = snprintf(num, sizeof num, "%d", j - i);
        if (p[1] && j - i == 1) {
            out[len++] = s[i];
        } else if (p[0]) {
            memcpy(out + len, num, (size_t)nl);
            len += nl;
            out[len++] = s[i];
        } else {
            out[len++] = s[i];
            memcpy(out + len, num, (size_t)nl);
            len += nl;
        }
        i = j;
    }
    py_str(call, s, (size_t)n);
    py_str(expect, out, (size_t)len);
}

// ---- balanced(s): level 3 ---------------------------------------------------------------------
// p[0] bitmask of the bracket kinds that count: () [] {} <>

static const char OPEN[] = "([{<", CLOSE[] = ")]}>";

static void bal_params(uint64_t *g, int64_t *p) { p[0] = tb_range(g, 1, 15); }
static void bal_spec(bbuf *o, const int64_t *p) {
    int n = __builtin_popcountll((unsigned long long)p[0]), seen = 0;
    tb_puts(o, "returns True if the brackets ");
    for (int i = 0; i < 4; i++) {
        if (!(p[0] >> i & 1)) continue;
        tb_printf(o, "%s%c%c", seen == 0 ? "" : seen == n - 1 ? " and " : ", ", OPEN[i], CLOSE[i]);
        seen++;
    }
    tb_puts(o, " in the string s are balanced and properly nested, and False otherwise; all other characters are ignored");
}
static void bal_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "Push each opening bracket on a stack; a closing bracket must match the bracket popped from the top.\n");
    tb_step(o);
    tb_puts(o, "At the end the stack must be empty.\n");
}
static void bal_code(bbuf *o, const int64_t *p) {
    char opens[5] = {0};
    int n = 0;
    tb_puts(o, "def balanced(s):\n    pairs = {");
    for (int i = 0; i < 4; i++) {
        if (!(p[0] >> i & 1)) continue;
        tb_printf(o, "%s\"%c\": \"%c\"", n ? ", " : "", CLOSE[i], OPEN[i]);
        opens[n++] = OPEN[i];
    }
    tb_printf(o,
              "}\n"
              "    stack = []\n"
              "    for ch in s:\n"
              "        if ch in \"%s\":\n"
              "            stack.append(ch)\n"
              "        elif ch in pairs:\n"
              "            if not stack or stack.pop() != pairs[ch]:\n"
              "                return False\n"
              "    return not stack\n",
              opens);
}
static void bal_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    char s[64];
    int n = 0;
    if (k != 0) {
        // A balanced string of the counted kinds with letters and other brackets mixed in,
        // then (half the time) one random edit.
        char stack[32];
        int depth = 0, len = (int)tb_range(g, 1, 16);
        for (int i = 0; i < len && n < 40; i++) {
            int r = (int)tb_range(g, 0, 9);
            if (r < 4 && depth < 32) {
                int kind;
                do kind = (int)tb_range(g, 0, 3);
                while (!(p[0] >> kind & 1));
                stack[depth++] = (char)kind;
                s[n++] = OPEN[kind];
            } else if (r < 8 && depth > 0) {
                s[n++] = CLOSE[(int)stack[--depth]];
            } else {  // a letter or a bracket that does not count
                char c;
                do c = "ab()[]{}<>"[tb_range(g, 0, 9)];
                while (strchr(OPEN, c) ? (p[0] >> (strchr(OPEN, c) - OPEN) & 1) : strchr(CLOSE, c) ? (p[0] >> (strchr(CLOSE, c) - CLOSE) & 1) : 0);
                s[n++] = c;
            }
        }
        while (depth > 0 && n < 60) s[n++] = CLOSE[(int)stack[--depth]];
        // Odd cases are made unbalanced for sure (a counted closing bracket first, or an
        // opening one last); every fourth gets a random edit whose outcome is open.
        if (k % 2 == 1) {
            int kind;
            do kind = (int)tb_range(g, 0, 3);
            while (!(p[0] >> kind & 1));
            if (tb_chance(g, 50)) {
                memmove(s + 1, s, (size_t)n);
                s[0] = CLOSE[kind];
            } else {
                s[n] = OPEN[kind];
            }
            n++;
        } else if (k % 4 == 2 && n > 0) {
            s[tb_range(g, 0, n - 1)] = "()[]{}<>x"[tb_range(g, 0, 8)];
        }
    }
    char stack[64];
    int depth = 0, ok = 1;
    for (int i = 0; i < n && ok; i++) {
        const char *o = strchr(OPEN, s[i]), *c = strchr(CLOSE, s[i]);
        if (o && (p[0] >> (o - OPEN) & 1)) stack[depth++] = s[i];
        else if (c && (p[0] >> (c - CLOSE) & 1)) ok = depth > 0 && stack[--depth] == OPEN[c - CLOSE];
    }
    py_str(call, s, (size_t)n);
    py_bool(expect, ok && depth == 0);
}

// ---- most_common_word(s): level 3 -------------------------------------------------------------
// p[0] tie rule: 0 first in s, 1 alphabetically first, 2 alphabetically last

static const char *const VOCAB[] = {"ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"};

static void mcw_params(uint64_t *g, int64_t *p) { p[0] = tb_range(g, 0, 2); }
static void mcw_spec(bbuf *o, const int64_t *p) {
    tb_puts(o, "returns the word that occurs most often in the non-empty string s of words separated by single spaces; if several words occur equally often, it returns ");
    tb_puts(o, p[0] == 0 ? "the one that appears first in s" : p[0] == 1 ? "the alphabetically first of them" : "the alphabetically last of them");
}
static void mcw_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "Count each word in a dictionary and find the highest count.\n");
    tb_step(o);
    tb_puts(o, p[0] == 0 ? "Return the first word of s that has that count.\n" : p[0] == 1 ? "Return the smallest word with that count.\n" : "Return the largest word with that count.\n");
}
static void mcw_code(bbuf *o, const int64_t *p) {
    tb_puts(o,
            "def most_common_word(s):\n"
            "    words = s.split()\n"
            "    counts = {}\n"
            "    for w in words:\n"
            "        counts[w] = counts.get(w, 0) + 1\n"
            "    best = max(counts.values())\n");
    if (p[0] == 0) tb_puts(o, "    for w in words:\n        if counts[w] == best:\n            return w\n");
    else tb_printf(o, "    return %s(w for w in counts if counts[w] == best)\n", p[0] == 1 ? "min" : "max");
}
static void mcw_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    int nw = k == 0 ? 1 : (int)tb_range(g, 2, 10), pick[16], counts[8] = {0};
    int nv = (int)tb_range(g, 2, 5);  // a small vocabulary makes ties and repeats common
    char s[STR_MAX];
    int n = 0;
    for (int i = 0; i < nw; i++) {
        pick[i] = (int)tb_range(g, 0, nv - 1);
        counts[pick[i]]++;
        if (i) s[n++] = ' ';
        memcpy(s + n, VOCAB[pick[i]], 3);
        n += 3;
    }
    int best = 0;
    for (int v = 0; v < 8; v++)
        if (counts[v] > best) best = counts[v];
    int ans = -1;
    if (p[0] == 0) {
        for (int i = 0; i < nw && ans < 0; i++)
            if (counts[pick[i]] == best) ans = pick[i];
    } else {
        for (int v = 0; v < 8; v++)  // VOCAB is in alphabetical order
            if (counts[v] == best && (ans < 0 || p[0] == 2)) ans = v;
    }
    py_str(call, s, (size_t)n);
    py_str(expect, VOCAB[ans], 3);
}

// ---- count_pattern(s): level 3 ----------------------------------------------------------------
// p[0] pattern length 2..3, p[1] pattern code (base 3 over "abc"), p[2] overlapping

static void pattern_text(const int64_t *p, char *pat) {
    int64_t code = p[1];
    for (int i = 0; i < p[0]; i++) {
        pat[i] = (char)('a' + code % 3);
        code /= 3;
    }
    pat[p[0]] = 0;
}
static void pat_params(uint64_t *g, int64_t *p) {
    p[0] = tb_range(g, 2, 3);
    p[1] = tb_range(g, 0, p[0] == 2 ? 8 : 26);
    p[2] = tb_range(g, 0, 1);
}
static void pat_spec(bbuf *o, const int64_t *p) {
    char pat[4];
    pattern_text(p, pat);
    tb_printf(o, "returns how many times \"%s\" occurs in the string s, %s", pat,
              p[2] ? "counting overlapping occurrences" : "counting only non-overlapping occurrences from left to right");
}
static void pat_plan(bbuf *o, const int64_t *p) {
    char pat[4];
    pattern_text(p, pat);
    tb_step(o);
    if (p[2]) tb_printf(o, "Compare s[i:i + %lld] with \"%s\" at every start position i.\n", (long long)p[0], pat);
    else tb_printf(o, "str.count counts non-overlapping occurrences from left to right.\n");
}
static void pat_code(bbuf *o, const int64_t *p) {
    char pat[4];
    pattern_text(p, pat);
    if (p[2])
        tb_printf(o,
                  "def count_pattern(s):\n"
                  "    count = 0\n"
                  "    for i in range(len(s) - %lld + 1):\n"
                  "        if s[i:i + %lld] == \"%s\":\n"
                  "            count += 1\n"
                  "    return count\n",
                  (long long)p[0], (long long)p[0], pat);
    else tb_printf(o, "def count_pattern(s):\n    return s.count(\"%s\")\n", pat);
}
static void pat_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    char pat[4], s[32];
    pattern_text(p, pat);
    int n = k == 0 ? 0 : (int)tb_range(g, 1, 20), count = 0, plen = (int)p[0];
    for (int i = 0; i < n; i++) s[i] = (char)('a' + tb_range(g, 0, 2));
    // Plant the pattern (twice, possibly overlapping) in most cases, so counts vary.
    for (int r = 0; r < 2 && n >= plen; r++)
        if (tb_chance(g, 70)) memcpy(s + tb_range(g, 0, n - plen), pat, (size_t)plen);
    for (int i = 0; i + plen <= n;) {
        if (memcmp(s + i, pat, (size_t)plen) == 0) {
            count++;
            i += p[2] ? 1 : plen;
        } else {
            i++;
        }
    }
    py_str(call, s, (size_t)n);
    py_int(expect, count);
}

// ---- edit_distance(a, b): level 5 -------------------------------------------------------------
// p[0] insert cost, p[1] delete cost, p[2] replace cost (1..3 each)

static void ed_params(uint64_t *g, int64_t *p) {
    for (int i = 0; i < 3; i++) p[i] = tb_range(g, 1, 3);
}
static void ed_spec(bbuf *o, const int64_t *p) {
    tb_printf(o, "returns the minimum total cost of turning the string a into the string b, where inserting a character costs %lld, deleting a character costs %lld and replacing a character by another costs %lld",
              (long long)p[0], (long long)p[1], (long long)p[2]);
}
static void ed_plan(bbuf *o, const int64_t *p) {
    tb_step(o);
    tb_puts(o, "dp[i][j] is the cheapest way to turn a[:i] into b[:j]; dp[i][0] deletes everything and dp[0][j] inserts everything.\n");
    tb_step(o);
    tb_puts(o, "dp[i][j] is the minimum of keeping or replacing the last character, deleting a[i - 1], or inserting b[j - 1].\n");
}
static void ed_code(bbuf *o, const int64_t *p) {
    tb_printf(o,
              "def edit_distance(a, b):\n"
              "    m, n = len(a), len(b)\n"
              "    dp = [[0] * (n + 1) for _ in range(m + 1)]\n"
              "    for i in range(1, m + 1):\n"
              "        dp[i][0] = i * %lld\n"
              "    for j in range(1, n + 1):\n"
              "        dp[0][j] = j * %lld\n"
              "    for i in range(1, m + 1):\n"
              "        for j in range(1, n + 1):\n"
              "            keep = dp[i - 1][j - 1] + (0 if a[i - 1] == b[j - 1] else %lld)\n"
              "            dp[i][j] = min(keep, dp[i - 1][j] + %lld, dp[i][j - 1] + %lld)\n"
              "    return dp[m][n]\n",
              (long long)p[1], (long long)p[0], (long long)p[2], (long long)p[1], (long long)p[0]);
}
static void ed_test(const int64_t *p, uint64_t *g, int k, bbuf *call, bbuf *expect) {
    char a[10], b[10];
    int m = k == 0 ? 0 : (int)tb_range(g, 0, 8), n = k == 1 ? 0 : (int)tb_range(g, 0, 8);
    for (int i = 0; i < m; i++) a[i] = (char)('a' + tb_range(g, 0, 3));
    for (int j = 0; j < n; j++) b[j] = (char)('a' + tb_range(g, 0, 3));
    int64_t dp[9][9];
    for (int i = 0; i <= m; i++)
        for (int j = 0; j <= n; j++) {
            if (i == 0) dp[i][j] = j * p[0];
            else if (j == 0) dp[i][j] = i * p[1];
            else {
                int64_t keep = dp[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : p[2]);
                int64_t del = dp[i - 1][j] + p[1], ins = dp[i][j - 1] + p[0];
                int64_t best = keep < del ? keep : del;
                dp[i][j] = best < ins ? best : ins;
            }
        }
    py_str(call, a, (size_t)m);
    tb_puts(call, ", ");
    py_str(call, b, (size_t)n);
    py_int(expect, dp[m][n]);
}

const code_family CODE_FAMILIES_STRINGS[] = {
    {"count_letters", "s", 1, letters_params, letters_spec, letters_plan, letters_code, letters_test},
    {"repeat_join", "s", 1, repeat_params, repeat_spec, repeat_plan, repeat_code, repeat_test},
    {"reverse_words", "s", 2, rw_params, rw_spec, rw_plan, rw_code, rw_test},
    {"caesar", "s", 3, caesar_params, caesar_spec, caesar_plan, caesar_code, caesar_test},
    {"run_length", "s", 3, rle_params, rle_spec, rle_plan, rle_code, rle_test},
    {"balanced", "s", 3, bal_params, bal_spec, bal_plan, bal_code, bal_test},
    {"most_common_word", "s", 3, mcw_params, mcw_spec, mcw_plan, mcw_code, mcw_test},
    {"count_pattern", "s", 4, pat_params, pat_spec, pat_plan, pat_code, pat_test},
    {"edit_distance", "a, b", 5, ed_params, ed_spec, ed_plan, ed_code, ed_test},
};
const int CODE_FAMILIES_STRINGS_N = (int)(sizeof CODE_FAMILIES_STRINGS / sizeof CODE_FAMILIES_STRINGS[0]);
