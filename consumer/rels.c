/*-------------------------------------------------------------------------
 *
 * rels.c
 *		The relay's relation table and topics.
 *
 * Both maps are open-addressing hash tables keyed by rel_id with linear
 * probing; nothing is ever removed (a dropped table's entry is small and a
 * new table gets a new oid), so no tombstones are needed.
 *
 *-------------------------------------------------------------------------
 */
#include "rels.h"

#include <stdlib.h>
#include <string.h>

struct RelTable
{
	RelInfo   **slots;			/* NULL or an entry */
	size_t		size;			/* a power of two */
	size_t		count;
	uint64_t	next_generation;
};

typedef struct RelGenSlot
{
	uint32_t	rel_id;
	uint64_t	generation;		/* 0: empty slot */
} RelGenSlot;

struct RelGenMap
{
	RelGenSlot *slots;
	size_t		size;			/* a power of two */
	size_t		count;
};

static inline size_t
hash_rel_id(uint32_t rel_id)
{
	return (size_t) (rel_id * UINT32_C(2654435761));
}

RelTable *
rels_new(void)
{
	RelTable   *rels = wc_malloc0(sizeof(RelTable));

	rels->size = 64;
	rels->slots = wc_malloc0(rels->size * sizeof(RelInfo *));
	rels->next_generation = 1;
	return rels;
}

void
rels_destroy(RelTable **relsp)
{
	RelTable   *rels = *relsp;

	if (rels == NULL)
		return;
	for (size_t i = 0; i < rels->size; i++)
	{
		if (rels->slots[i])
		{
			free(rels->slots[i]->topic);
			free(rels->slots[i]->relation);
			free(rels->slots[i]);
		}
	}
	free(rels->slots);
	free(rels);
	*relsp = NULL;
}

static RelInfo **
rels_slot(RelTable *rels, uint32_t rel_id)
{
	size_t		mask = rels->size - 1;

	for (size_t i = hash_rel_id(rel_id) & mask;; i = (i + 1) & mask)
	{
		if (rels->slots[i] == NULL || rels->slots[i]->rel_id == rel_id)
			return &rels->slots[i];
	}
}

RelInfo *
rels_find(RelTable *rels, uint32_t rel_id)
{
	return *rels_slot(rels, rel_id);
}

static void
rels_grow(RelTable *rels)
{
	RelInfo   **old = rels->slots;
	size_t		old_size = rels->size;

	rels->size *= 2;
	rels->slots = wc_malloc0(rels->size * sizeof(RelInfo *));
	for (size_t i = 0; i < old_size; i++)
	{
		if (old[i])
			*rels_slot(rels, old[i]->rel_id) = old[i];
	}
	free(old);
}

RelInfo *
rels_update(RelTable *rels, const char *database, uint32_t rel_id,
			const char *schema, size_t schema_len, const char *name,
			size_t name_len, const uint8_t *envelope, size_t envelope_len)
{
	RelInfo   **slot;
	RelInfo    *rel;

	if ((rels->count + 1) * 2 > rels->size)
		rels_grow(rels);
	slot = rels_slot(rels, rel_id);
	rel = *slot;
	if (rel == NULL)
	{
		rel = *slot = wc_malloc0(sizeof(RelInfo));
		rel->rel_id = rel_id;
		rels->count++;
	}
	else if (rel->relation_len == envelope_len &&
			 memcmp(rel->relation, envelope, envelope_len) == 0)
		return rel;

	free(rel->topic);
	free(rel->relation);
	rel->topic = topic_table(database, schema, schema_len, name, name_len,
							 &rel->topic_len);
	rel->relation = wc_malloc(envelope_len);
	memcpy(rel->relation, envelope, envelope_len);
	rel->relation_len = envelope_len;
	rel->generation = rels->next_generation++;
	rel->published = false;
	return rel;
}

void
rels_foreach(RelTable *rels, void (*fn) (RelInfo *rel, void *arg), void *arg)
{
	for (size_t i = 0; i < rels->size; i++)
	{
		if (rels->slots[i])
			fn(rels->slots[i], arg);
	}
}

/* append one identifier and a "." to buf at *len; buf has room for 2n+3 */
static void
topic_append_ident(char *buf, size_t *len, const char *ident, size_t n)
{
	bool		bare = n > 0 && ((ident[0] >= 'a' && ident[0] <= 'z') ||
								 ident[0] == '_');
	size_t		at = *len;

	for (size_t i = 1; bare && i < n; i++)
	{
		char		c = ident[i];

		bare = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '_' || c == '$';
	}
	if (bare)
	{
		memcpy(buf + at, ident, n);
		at += n;
	}
	else
	{
		buf[at++] = '"';
		for (size_t i = 0; i < n; i++)
		{
			if (ident[i] == '"')
				buf[at++] = '"';
			buf[at++] = ident[i];
		}
		buf[at++] = '"';
	}
	buf[at++] = '.';
	buf[at] = '\0';
	*len = at;
}

char *
topic_table(const char *database, const char *schema, size_t schema_len,
			const char *name, size_t name_len, size_t *topic_len)
{
	size_t		dblen = strlen(database);
	char	   *buf = wc_malloc(2 * (dblen + schema_len + name_len) + 10);
	size_t		len = 0;

	topic_append_ident(buf, &len, database, dblen);
	topic_append_ident(buf, &len, schema, schema_len);
	topic_append_ident(buf, &len, name, name_len);
	*topic_len = len;
	return buf;
}

char *
topic_transaction(const char *database, size_t *topic_len)
{
	size_t		dblen = strlen(database);
	char	   *buf = wc_malloc(2 * dblen + 5);
	size_t		len = 0;

	topic_append_ident(buf, &len, database, dblen);
	buf[len++] = '.';
	buf[len] = '\0';
	*topic_len = len;
	return buf;
}

RelGenMap *
relgen_new(void)
{
	RelGenMap  *map = wc_malloc0(sizeof(RelGenMap));

	map->size = 16;
	map->slots = wc_malloc0(map->size * sizeof(RelGenSlot));
	return map;
}

void
relgen_destroy(RelGenMap **mapp)
{
	if (*mapp == NULL)
		return;
	free((*mapp)->slots);
	free(*mapp);
	*mapp = NULL;
}

void
relgen_clear(RelGenMap *map)
{
	memset(map->slots, 0, map->size * sizeof(RelGenSlot));
	map->count = 0;
}

static RelGenSlot *
relgen_slot(RelGenMap *map, uint32_t rel_id)
{
	size_t		mask = map->size - 1;

	for (size_t i = hash_rel_id(rel_id) & mask;; i = (i + 1) & mask)
	{
		if (map->slots[i].generation == 0 || map->slots[i].rel_id == rel_id)
			return &map->slots[i];
	}
}

uint64_t
relgen_get(RelGenMap *map, uint32_t rel_id)
{
	return relgen_slot(map, rel_id)->generation;
}

void
relgen_set(RelGenMap *map, uint32_t rel_id, uint64_t generation)
{
	RelGenSlot *slot;

	if ((map->count + 1) * 2 > map->size)
	{
		RelGenSlot *old = map->slots;
		size_t		old_size = map->size;

		map->size *= 2;
		map->slots = wc_malloc0(map->size * sizeof(RelGenSlot));
		map->count = 0;
		for (size_t i = 0; i < old_size; i++)
		{
			if (old[i].generation)
			{
				*relgen_slot(map, old[i].rel_id) = old[i];
				map->count++;
			}
		}
		free(old);
	}
	slot = relgen_slot(map, rel_id);
	if (slot->generation == 0)
		map->count++;
	slot->rel_id = rel_id;
	slot->generation = generation;
}
