/*
 * colname.c - header names made into XML element names.
 *
 * The rules are in colname.h; they are deterministic, so the same header
 * always gives the same elements. Names are checked against the XML 1.0
 * (fifth edition) NameStartChar and NameChar ranges on code points, and
 * beyond ASCII only the letters the fourth edition allows too are kept
 * (is_portable), so every XML 1.0 parser accepts the names.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/hash.h"
#include "lib/log.h"
#include "lib/xmalloc.h"
#include "stock/colname.h"

static int
is_name_start(uint32_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	    (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) ||
	    (c >= 0xF8 && c <= 0x2FF) || (c >= 0x370 && c <= 0x37D) ||
	    (c >= 0x37F && c <= 0x1FFF) || (c >= 0x200C && c <= 0x200D) ||
	    (c >= 0x2070 && c <= 0x218F) || (c >= 0x2C00 && c <= 0x2FEF) ||
	    (c >= 0x3001 && c <= 0xD7FF) || (c >= 0xF900 && c <= 0xFDCF) ||
	    (c >= 0xFDF0 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0xEFFFF);
}

static int
is_name_char(uint32_t c)
{
	return is_name_start(c) || c == '-' || c == '.' ||
	    (c >= '0' && c <= '9') || c == 0xB7 ||
	    (c >= 0x300 && c <= 0x36F) || (c >= 0x203F && c <= 0x2040);
}

/*
 * Beyond ASCII, only letters both XML 1.0 editions allow in names: the
 * fifth edition's wide ranges (emoji, U+FEFF) are refused by parsers
 * that keep the fourth edition's tables, such as expat. These ranges
 * are in both: Latin-1 and Latin Extended-A letters, Greek, Cyrillic,
 * kana, CJK unified ideographs, Hangul syllables, the middle dot and
 * the combining marks U+0300 to U+0345.
 */
static int
is_portable(uint32_t c)
{
	return c < 0x80 || c == 0xB7 || (c >= 0x300 && c <= 0x345) ||
	    (c >= 0xC0 && c <= 0xD6) ||
	    (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x131) ||
	    (c >= 0x391 && c <= 0x3A1) || (c >= 0x3A3 && c <= 0x3CE) ||
	    (c >= 0x410 && c <= 0x44F) || (c >= 0x3041 && c <= 0x3094) ||
	    (c >= 0x30A1 && c <= 0x30FA) || (c >= 0x4E00 && c <= 0x9FA5) ||
	    (c >= 0xAC00 && c <= 0xD7A3);
}

/* Decodes one code point of valid UTF-8; returns its length. */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	if (s[0] < 0x80 || len < 2) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xE0) {
		*cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
		return 2;
	}
	if (s[0] < 0xF0 && len >= 3) {
		*cp = (uint32_t)(s[0] & 0x0F) << 12 |
		    (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
		return 3;
	}
	if (len >= 4) {
		*cp = (uint32_t)(s[0] & 0x07) << 18 |
		    (uint32_t)(s[1] & 0x3F) << 12 |
		    (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
		return 4;
	}
	*cp = 0xFFFD;
	return 1;
}

/* Rules 1 to 5 for one name. */
static char *
colname_one(const char *raw, size_t len, unsigned column)
{
	const unsigned char	*s = (const unsigned char *)raw;
	char			*out, *body, *o;
	size_t			 i, n;
	uint32_t		 cp;

	/* Every byte kept, at worst, plus room for a '_' in front. */
	out = xmalloc(len + 2);
	body = o = out + 1;
	for (i = 0; i < len; i += n) {
		n = utf8_decode(s + i, len - i, &cp);
		if (cp == ' ' || cp == '\t' || cp == '\r' || cp == '\n')
			continue;
		if (cp == ':' || !is_name_char(cp) || !is_portable(cp))
			*o++ = '_';
		else {
			memcpy(o, s + i, n);
			o += n;
		}
	}
	*o = '\0';

	if (o == body) {
		free(out);
		xasprintf(&out, "Column%u", column);
		return out;
	}
	utf8_decode((const unsigned char *)body, (size_t)(o - body), &cp);
	if (is_name_start(cp) && strncasecmp(body, "xml", 3) != 0) {
		memmove(out, body, (size_t)(o - body) + 1);
		return out;
	}
	out[0] = '_';
	return out;
}

/* A small open-addressing set of names, for rule 6. */
struct nameset {
	const char	**slots;
	size_t		  size;
};

/* Adds s unless present; returns 1 if added. */
static int
nameset_add(struct nameset *set, const char *s)
{
	size_t	i = (size_t)hash_string(s) & (set->size - 1);

	while (set->slots[i] != NULL) {
		if (strcmp(set->slots[i], s) == 0)
			return 0;
		i = (i + 1) & (set->size - 1);
	}
	set->slots[i] = s;
	return 1;
}

/*
 * For rule 6, the next suffix to try for each repeated name. Names only
 * ever join the set, so a suffix once found taken stays taken: starting
 * from the last one gives the name starting from 2 would, and n repeats
 * of one name cost n probes instead of n*n/2.
 */
struct nextsuffix {
	char		*base;
	unsigned	 next;
};

static struct nextsuffix *
nextsuffix_get(struct nextsuffix *slots, size_t size, const char *base)
{
	size_t	i = (size_t)hash_string(base) & (size - 1);

	while (slots[i].base != NULL) {
		if (strcmp(slots[i].base, base) == 0)
			return &slots[i];
		i = (i + 1) & (size - 1);
	}
	slots[i].base = xstrdup(base);
	slots[i].next = 2;
	return &slots[i];
}

char **
colname_rewrite(const char *const *raw, const size_t *lens, unsigned n)
{
	struct nameset		 set;
	struct nextsuffix	*next, *ns;
	char			**names, *alt;
	size_t			 j;
	unsigned		 i;

	names = xcalloc(n > 0 ? n : 1, sizeof *names);
	/* Twice as many slots as names, at least, keeps probes short. */
	for (set.size = 16; set.size < 2 * (size_t)n + 2; set.size *= 2)
		;
	set.slots = xcalloc(set.size, sizeof *set.slots);
	next = xcalloc(set.size, sizeof *next);
	for (i = 0; i < n; i++) {
		names[i] = colname_one(raw[i], lens[i], i + 1);
		if (nameset_add(&set, names[i]))
			continue;
		ns = nextsuffix_get(next, set.size, names[i]);
		for (;; ns->next++) {
			xasprintf(&alt, "%s_%u", names[i], ns->next);
			if (nameset_add(&set, alt))
				break;
			free(alt);
		}
		ns->next++;
		free(names[i]);
		names[i] = alt;
	}
	for (j = 0; j < set.size; j++)
		free(next[j].base);
	free(next);
	free(set.slots);
	return names;
}

void
colname_free(char **names, unsigned n)
{
	unsigned	i;

	if (names == NULL)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
