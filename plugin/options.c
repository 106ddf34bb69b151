/*-------------------------------------------------------------------------
 *
 * options.c
 *	  Parsing and validation of the options given to the walcast plugin.
 *
 * Options arrive as a DefElem list (pg_logical_slot_get_binary_changes'
 * variadic arguments, or the option list of START_REPLICATION).  Every
 * option is described once in option_table; a misspelled option, a bad
 * value or an option given twice is an ERROR at startup, before anything
 * is decoded, never a silent default.
 *
 * Table patterns have the form schema.table, each side matched as a glob
 * in which '*' stands for any run of characters and '?' for one; names are
 * compared as stored in the catalog (case-sensitive).  A table is decoded
 * when it matches include-tables (or that option is absent) and matches no
 * pattern of exclude-tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "walcast.h"

/* A compiled schema.table pattern. */
typedef struct TablePattern
{
	char	   *schema;
	char	   *table;
} TablePattern;

typedef enum OptionKind
{
	OPT_BOOL,					/* on/off, true/false, 1/0 */
	OPT_PATTERNS,				/* comma-separated schema.table patterns */
	OPT_STRINGS,				/* comma-separated strings */
	OPT_ORIGIN,					/* "any" or "none" */
	OPT_FORMAT					/* the format version the client expects */
} OptionKind;

typedef struct OptionDef
{
	const char *name;
	OptionKind	kind;
	size_t		offset;			/* field in WalcastOptions; unused by OPT_FORMAT */
} OptionDef;

static const OptionDef option_table[] = {
	{"include-tables", OPT_PATTERNS, offsetof(WalcastOptions, include_tables)},
	{"exclude-tables", OPT_PATTERNS, offsetof(WalcastOptions, exclude_tables)},
	{"messages", OPT_BOOL, offsetof(WalcastOptions, messages)},
	{"message-prefixes", OPT_STRINGS, offsetof(WalcastOptions, message_prefixes)},
	{"streaming", OPT_BOOL, offsetof(WalcastOptions, streaming)},
	{"origin", OPT_ORIGIN, offsetof(WalcastOptions, only_local)},
	{"skip-empty-xacts", OPT_BOOL, offsetof(WalcastOptions, skip_empty_xacts)},
	{"format-version", OPT_FORMAT, 0},
};

static const char *
valid_option_names(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < lengthof(option_table); i++)
		appendStringInfo(&buf, "%s\"%s\"", i > 0 ? ", " : "",
						 option_table[i].name);
	return buf.data;
}

static void
invalid_value(const char *name, const char *value, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
			 errhint("%s", hint)));
}

/*
 * Split a comma-separated list into trimmed, non-empty elements.
 */
static List *
split_list(const char *name, const char *value)
{
	List	   *result = NIL;
	const char *p = value;

	for (;;)
	{
		const char *end = strchr(p, ',');
		const char *last;
		int			len;

		if (end == NULL)
			end = p + strlen(p);
		while (p < end && isspace((unsigned char) *p))
			p++;
		last = end;
		while (last > p && isspace((unsigned char) last[-1]))
			last--;
		len = last - p;
		if (len == 0)
			invalid_value(name, value,
						  "List elements are separated by commas and must not be empty.");
		result = lappend(result, pnstrdup(p, len));
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return result;
}

static List *
parse_patterns(const char *name, const char *value)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, split_list(name, value))
	{
		char	   *text = lfirst(lc);
		char	   *dot = strchr(text, '.');
		TablePattern *pat;

		if (dot == NULL || dot == text || dot[1] == '\0' ||
			strchr(dot + 1, '.') != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid table pattern \"%s\" in option \"%s\"",
							text, name),
					 errhint("A table pattern has the form schema.table, for example public.* or *.orders.")));
		pat = palloc(sizeof(TablePattern));
		pat->schema = pnstrdup(text, dot - text);
		pat->table = pstrdup(dot + 1);
		result = lappend(result, pat);
	}
	return result;
}

/*
 * Parse the plugin's options into opt, erroring out on anything wrong.
 */
void
walcast_parse_options(WalcastOptions *opt, List *options)
{
	bool		seen[lengthof(option_table)] = {0};
	ListCell   *lc;

	opt->include_tables = NIL;
	opt->exclude_tables = NIL;
	opt->message_prefixes = NIL;
	opt->messages = true;
	opt->streaming = false;
	opt->only_local = false;
	opt->skip_empty_xacts = true;

	foreach(lc, options)
	{
		DefElem    *elem = lfirst(lc);
		const char *value;
		const OptionDef *def = NULL;
		int			i;
		char	   *field;

		for (i = 0; i < lengthof(option_table); i++)
		{
			if (strcmp(elem->defname, option_table[i].name) == 0)
			{
				def = &option_table[i];
				break;
			}
		}
		if (def == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized option \"%s\"", elem->defname),
					 errhint("Valid options are %s.", valid_option_names())));
		if (seen[i])
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("conflicting or redundant options"),
					 errdetail("Option \"%s\" is given more than once.",
							   def->name)));
		seen[i] = true;

		Assert(elem->arg == NULL || IsA(elem->arg, String));
		value = elem->arg ? strVal(elem->arg) : NULL;
		field = (char *) opt + def->offset;

		if (value == NULL && def->kind != OPT_BOOL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" requires a value", def->name)));

		switch (def->kind)
		{
			case OPT_BOOL:
				/* a bare option name means on, as for pg_recvlogical -o */
				if (value != NULL && !parse_bool(value, (bool *) field))
					invalid_value(def->name, value,
								  "Valid values are \"on\" and \"off\".");
				if (value == NULL)
					*(bool *) field = true;
				break;
			case OPT_PATTERNS:
				*(List **) field = parse_patterns(def->name, value);
				break;
			case OPT_STRINGS:
				*(List **) field = split_list(def->name, value);
				break;
			case OPT_ORIGIN:
				if (pg_strcasecmp(value, "any") == 0)
					*(bool *) field = false;
				else if (pg_strcasecmp(value, "none") == 0)
					*(bool *) field = true;
				else
					invalid_value(def->name, value,
								  "Valid values are \"any\" (send changes of every origin) and \"none\" (send only local changes).");
				break;
			case OPT_FORMAT:
				if (strcmp(value, CppAsString2(WALCAST_FORMAT_VERSION)) != 0)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("format version %s is not supported",
									value),
							 errdetail("This walcast plugin writes format version %d.",
									   WALCAST_FORMAT_VERSION)));
				break;
		}
	}
}

/*
 * Match str against a glob with '*' (any run) and '?' (one character).
 * Iterative, with one backtracking point: linear for the patterns people
 * write.
 */
static bool
glob_match(const char *pat, const char *str)
{
	const char *star = NULL;
	const char *resume = NULL;

	while (*str)
	{
		if (*pat == '*')
		{
			star = pat++;
			resume = str;
		}
		else if (*pat == '?' || *pat == *str)
		{
			pat++;
			str++;
		}
		else if (star != NULL)
		{
			pat = star + 1;
			str = ++resume;
		}
		else
			return false;
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

static bool
patterns_match(List *patterns, const char *schema, const char *table)
{
	ListCell   *lc;

	foreach(lc, patterns)
	{
		TablePattern *pat = lfirst(lc);

		if (glob_match(pat->schema, schema) && glob_match(pat->table, table))
			return true;
	}
	return false;
}

/*
 * Is the table schema.table decoded under the table options?
 */
bool
walcast_table_matches(WalcastOptions *opt, const char *schema,
					  const char *table)
{
	if (opt->include_tables != NIL &&
		!patterns_match(opt->include_tables, schema, table))
		return false;
	return !patterns_match(opt->exclude_tables, schema, table);
}

/*
 * Is a logical message with this prefix sent?
 */
bool
walcast_prefix_wanted(WalcastOptions *opt, const char *prefix)
{
	ListCell   *lc;

	if (!opt->messages)
		return false;
	if (opt->message_prefixes == NIL)
		return true;
	foreach(lc, opt->message_prefixes)
	{
		if (strcmp(lfirst(lc), prefix) == 0)
			return true;
	}
	return false;
}
