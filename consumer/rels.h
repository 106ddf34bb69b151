/*-------------------------------------------------------------------------
 *
 * rels.h
 *		The relay's table of relations: the last Relation envelope of each
 *		table, and its topic.
 *
 * Rows name their table by rel_id only, and the plugin sends a table's
 * Relation once per session.  The relay keeps the last one of each table
 * so it can route rows to the table's topic and send the Relation again to
 * a subscriber that has not seen it (one that joined late, or resumed
 * after it went by).  Each new definition of a table gets a new generation
 * number; a subscriber that holds that generation needs nothing re-sent.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_RELS_H
#define WALCAST_RELS_H

#include "common.h"

typedef struct RelInfo
{
	uint32_t	rel_id;			/* pg_class oid */
	char	   *topic;			/* "db.schema.table.", see relay.proto */
	size_t		topic_len;
	uint8_t    *relation;		/* the last Relation envelope's bytes */
	size_t		relation_len;
	uint64_t	generation;		/* changes when the definition does */
	bool		published;		/* this generation went out on the publish
								 * socket since the last new subscription */
} RelInfo;

typedef struct RelTable RelTable;

extern RelTable *rels_new(void);
extern void rels_destroy(RelTable **rels);

/* the relation with this rel_id, or NULL */
extern RelInfo *rels_find(RelTable *rels, uint32_t rel_id);

/*
 * Remember a Relation envelope; returns its entry.  The generation changes
 * only when the bytes differ from the last ones (after a reconnect the
 * plugin sends identical Relations again).
 */
extern RelInfo *rels_update(RelTable *rels, const char *database,
							uint32_t rel_id, const char *schema,
							size_t schema_len, const char *name,
							size_t name_len, const uint8_t *envelope,
							size_t envelope_len);

/* call fn for every relation */
extern void rels_foreach(RelTable *rels, void (*fn) (RelInfo *rel, void *arg),
						 void *arg);

/*
 * Topics.  topic_append_ident() appends one identifier and its "."
 * separator: bare when it matches [a-z_][a-z0-9_$]*, otherwise in double
 * quotes with quotes doubled.  The topic of transaction-level events is
 * the database's identifier followed by one more ".".
 */
extern char *topic_table(const char *database, const char *schema,
						 size_t schema_len, const char *name, size_t name_len,
						 size_t *topic_len);
extern char *topic_transaction(const char *database, size_t *topic_len);

/*
 * A small map from rel_id to a generation, for what one subscriber holds.
 */
typedef struct RelGenMap RelGenMap;

extern RelGenMap *relgen_new(void);
extern void relgen_destroy(RelGenMap **map);
extern void relgen_clear(RelGenMap *map);
extern uint64_t relgen_get(RelGenMap *map, uint32_t rel_id);	/* 0: none */
extern void relgen_set(RelGenMap *map, uint32_t rel_id, uint64_t generation);

#endif							/* WALCAST_RELS_H */
