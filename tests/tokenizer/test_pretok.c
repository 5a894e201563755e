// test_pretok.c — UTF-8 decoding and the hand-written GPT-2 / digits pre-tokenisation on
// cases worked out by hand from the regex (tests/tokenizer/test_hf_compare.py checks the
// same rules against HF tokenizers on thousands of texts).
#include <string.h>

#include "tests/test.h"
#include "tests/tokenizer/tok_test_util.h"

static void check_utf8(const char *s, size_t n, int32_t want_cp, size_t want_len) {
    size_t cl;
    int32_t cp = bpe_utf8_decode((const uint8_t *)s, n, 0, &cl);
    CHECK(cp == want_cp && cl == want_len, "decode of %zu bytes starting 0x%02x: got cp %d len %zu, want %d len %zu", n,
          (unsigned char)s[0], cp, cl, want_cp, want_len);
}

static void check_split(int pretok, const char *text, const char *want) {
    bbuf out = {0};
    tt_pretok_join(text, strlen(text), pretok, &out);
    CHECK(strcmp((char *)out.p, want) == 0, "%s: [%s] -> [%s], want [%s]", bpe_pretok_name(pretok), text, (char *)out.p, want);
    bbuf_free(&out);
}

int main(void) {
    // Valid forms, each length.
    check_utf8("A", 1, 'A', 1);
    check_utf8("\xc3\xa9", 2, 0xE9, 2);
    check_utf8("\xe6\x97\xa5", 3, 0x65E5, 3);
    check_utf8("\xf0\x9f\x98\x80", 4, 0x1F600, 4);
    check_utf8("\xf4\x8f\xbf\xbf", 4, 0x10FFFF, 4);
    check_utf8("\xee\x80\x80", 3, 0xE000, 3);
    // Invalid: each is one byte of class "other".
    check_utf8("\x80", 1, -1, 1);             // stray continuation
    check_utf8("\xc0\x80", 2, -1, 1);         // overlong NUL
    check_utf8("\xc1\xbf", 2, -1, 1);         // overlong
    check_utf8("\xe0\x80\x80", 3, -1, 1);     // overlong 3-byte
    check_utf8("\xf0\x80\x80\x80", 4, -1, 1); // overlong 4-byte
    check_utf8("\xed\xa0\x80", 3, -1, 1);     // surrogate U+D800
    check_utf8("\xf4\x90\x80\x80", 4, -1, 1); // above U+10FFFF
    check_utf8("\xf5\x80\x80\x80", 4, -1, 1);
    check_utf8("\xff", 1, -1, 1);
    check_utf8("\xe2\x82", 2, -1, 1);         // truncated by the end of the text
    check_utf8("\xe2\x82x", 3, -1, 1);        // truncated by an ASCII byte
    check_utf8("\xc3\xc3", 2, -1, 1);

    // Classes of a few code points from the generated table.
    CHECK(bpe_uc_class('a') == BPE_CC_LETTER && bpe_uc_class('7') == BPE_CC_NUMBER, "ASCII classes");
    CHECK(bpe_uc_class(0x65E5) == BPE_CC_LETTER, "CJK is a letter");
    CHECK(bpe_uc_class(0xB2) == BPE_CC_NUMBER && bpe_uc_class(0xBD) == BPE_CC_NUMBER && bpe_uc_class(0x2168) == BPE_CC_NUMBER,
          "superscript two, one half, roman numeral are numbers");
    CHECK(bpe_uc_class(0x301) == BPE_CC_OTHER, "combining acute is not a letter (Mn)");
    CHECK(bpe_uc_class(0x3000) == BPE_CC_SPACE && bpe_uc_class(0x85) == BPE_CC_SPACE && bpe_uc_class(0xA0) == BPE_CC_SPACE,
          "ideographic space, NEL, NBSP are white space");
    CHECK(bpe_uc_class(0x1C) == BPE_CC_OTHER && bpe_uc_class(0x200B) == BPE_CC_OTHER && bpe_uc_class(0x180E) == BPE_CC_OTHER,
          "file separator, zero-width space, Mongolian vowel separator are not White_Space");
    CHECK(bpe_uc_class(0x1C89) == BPE_CC_LETTER, "U+1C89 (new in Unicode 16.0) is a letter");
    CHECK(strcmp(bpe_unicode_version, "16.0.0") == 0, "table is Unicode %s", bpe_unicode_version);

    int G = BPE_PRETOK_GPT2, D = BPE_PRETOK_DIGITS;
    check_split(G, "", "");
    check_split(G, "Hello world", "Hello| world");
    check_split(G, "I'm don't they're we've you'll he'd it's", "I|'m| don|'t| they|'re| we|'ve| you|'ll| he|'d| it|'s");
    check_split(G, "IT'S WE'LL", "IT|'|S| WE|'|LL");  // contractions are lower case only
    check_split(G, "'s", "'s");
    check_split(G, "''s", "''|s");  // the run of others takes both quotes
    check_split(G, " 's", " '|s");
    check_split(G, "'", "'");
    check_split(G, "a  b", "a| | b");
    check_split(G, "a   \n\nb", "a|   \n|\n|b");
    check_split(G, "x  ", "x|  ");
    check_split(G, "  hello", " | hello");
    check_split(G, "\t\ta", "\t|\t|a");
    check_split(G, " \n a", " \n| a");
    check_split(G, "hi!!! ok?", "hi|!!!| ok|?");
    check_split(G, "3.14 1234", "3|.|14| 1234");
    check_split(G, "x=12+34", "x|=|12|+|34");
    check_split(G, "a\r\nb", "a|\r|\n|b");  // the run gives back its last character
    check_split(G, "naïve café", "naïve| café");
    check_split(G, "日本語テキスト", "日本語テキスト");
    check_split(G, "e\xcc\x81t\xc3\xa9", "e|\xcc\x81|t\xc3\xa9");  // a combining mark is not a letter
    check_split(G, "٣٤٥ ²½", "٣٤٥| ²½");
    check_split(G, "a\xc2\xa0" "b", "a|\xc2\xa0|b");  // NBSP is white space but not " "
    check_split(G, "a \xe3\x80\x80 b", "a| \xe3\x80\x80| b");
    check_split(G, "😀😀 ok", "😀😀| ok");
    check_split(G, "a\xff\xfe" "b", "a|\xff\xfe|b");  // invalid bytes are "other" characters
    check_split(G, " \xff", " \xff");
    check_split(G, "\xe2\x82" "a", "\xe2\x82|a");
    check_split(G, "a\x1c\x1d" "b", "a|\x1c\x1d|b");

    check_split(D, "x 12+34", "x| |1|2|+|3|4");
    check_split(D, "a  1", "a|  |1");
    check_split(D, "a 1", "a| |1");
    check_split(D, "a \n1", "a| \n|1");
    check_split(D, "1 a", "1| a");
    check_split(D, "٣٤٥ ²½", "٣|٤|٥| |²|½");
    check_split(D, "v2.0's", "v|2|.|0|'s");
    check_split(D, "  ", "  ");
    check_split(D, "It's 3:45pm", "It|'s| |3|:|4|5|pm");
    return test_summary();
}
