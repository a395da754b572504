/* colname.h - CSV header names to valid, unique XML element names. */
#ifndef SC_COLNAME_H
#define SC_COLNAME_H

#include <stddef.h>

/*
 * Rewrites `n` header names (valid UTF-8, each raw[i] of lens[i] bytes)
 * into element names, by these rules in order:
 *   1. whitespace (space, tab, CR, LF) is removed: "Adj Close" -> "AdjClose";
 *   2. a character not allowed in an XML 1.0 name, and ':', becomes '_';
 *      beyond ASCII only Latin-1, Latin Extended-A, Greek, Cyrillic,
 *      kana, CJK and Hangul letters, U+00B7 and U+0300-U+0345 are kept
 *      (valid in both XML 1.0 editions, so expat accepts them too);
 *      anything else (emoji, U+FEFF) becomes '_' as well;
 *   3. a name that cannot start as it does (digit, '-', '.', combining
 *      mark) gets a '_' in front: "52wk" -> "_52wk";
 *   4. a name starting with "xml" in any case gets a '_' in front;
 *   5. an empty name becomes "Column<N>", N the 1-based column;
 *   6. a repeat of an earlier name gets "_2", "_3", ... (the first unused).
 * Returns a malloc'd array of n malloc'd strings.
 */
char	**colname_rewrite(const char *const *raw, const size_t *lens,
	    unsigned n);
/* Frees what colname_rewrite returned. */
void	  colname_free(char **, unsigned n);

#endif
