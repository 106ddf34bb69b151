/*-------------------------------------------------------------------------
 *
 * state.c
 *		Reading and atomically writing the relay's state file.
 *
 *-------------------------------------------------------------------------
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_MAGIC "walcast relay state 1"

bool
state_valid_name(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > STATE_MAX_NAME)
		return false;
	for (const char *c = name; *c; c++)
	{
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
			return false;
	}
	return true;
}

void
state_free(RelayState *state)
{
	free(state->subscribers);
	memset(state, 0, sizeof(*state));
}

static int
parse_line(RelayState *state, char *line)
{
	char		key[64];
	char		a[300],
				b[64],
				c[64];
	int			n;

	/* a database name may hold spaces: it is the rest of the line */
	if (strncmp(line, "database ", 9) == 0)
	{
		if (strlen(line + 9) >= sizeof(state->database))
			return -1;
		strcpy(state->database, line + 9);
		return 0;
	}
	n = sscanf(line, "%63s %299s %63s %63s", key, a, b, c);
	if (n == 2 && strcmp(key, "system_identifier") == 0)
		return sscanf(a, "%lu", &state->system_identifier) == 1 ? 0 : -1;
	if (n == 2 && strcmp(key, "slot") == 0 && strlen(a) <= STATE_MAX_NAME)
	{
		strcpy(state->slot, a);
		return 0;
	}
	if (n == 2 && strcmp(key, "confirmed_lsn") == 0)
		return wc_parse_lsn(a, &state->confirmed_lsn) ? 0 : -1;
	if (n == 4 && strcmp(key, "subscriber") == 0 && state_valid_name(a))
	{
		StateSubscriber *sub;

		state->subscribers = wc_realloc(state->subscribers,
										(state->nsubscribers + 1) * sizeof(StateSubscriber));
		sub = &state->subscribers[state->nsubscribers++];
		memset(sub, 0, sizeof(*sub));
		strcpy(sub->name, a);	/* state_valid_name checked its length */
		if (!wc_parse_lsn(b, &sub->acked_lsn))
			return -1;
		if (strcmp(c, "evicted") == 0)
			sub->evicted = true;
		else if (strcmp(c, "active") != 0)
			return -1;
		return 0;
	}
	return -1;
}

int
state_load(const char *path, RelayState *state, WcError *err)
{
	FILE	   *f;
	char		line[512];
	int			lineno = 0;

	memset(state, 0, sizeof(*state));
	f = fopen(path, "r");
	if (f == NULL)
	{
		if (errno == ENOENT)
			return 0;
		wc_error_set(err, "could not open state file \"%s\": %s",
					 path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f))
	{
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (lineno == 1)
		{
			if (strcmp(line, STATE_MAGIC) != 0)
			{
				wc_error_set(err, "state file \"%s\" is not a walcast relay state file",
							 path);
				wc_error_detail(err, "Its first line is \"%s\", expected \"%s\".",
								line, STATE_MAGIC);
				goto fail;
			}
			continue;
		}
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (parse_line(state, line) < 0)
		{
			wc_error_set(err, "invalid line %d in state file \"%s\": \"%s\"",
						 lineno, path, line);
			goto fail;
		}
	}
	if (ferror(f))
	{
		wc_error_set(err, "could not read state file \"%s\": %s",
					 path, strerror(errno));
		goto fail;
	}
	if (lineno == 0)
	{
		wc_error_set(err, "state file \"%s\" is empty", path);
		wc_error_hint(err, "Remove it only if the slot's subscribers will resynchronize.");
		goto fail;
	}
	fclose(f);
	return 1;

fail:
	fclose(f);
	state_free(state);
	return -1;
}

/* fsync the directory holding path, so the rename survives a crash */
static int
fsync_parent(const char *path, WcError *err)
{
	char	   *copy = wc_strdup(path);
	int			fd = open(dirname(copy), O_RDONLY);
	int			rc = 0;

	if (fd < 0 || fsync(fd) != 0)
	{
		wc_error_set(err, "could not fsync directory of \"%s\": %s",
					 path, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

int
state_save(const char *path, const RelayState *state, WcError *err)
{
	char	   *tmp = wc_psprintf("%s.tmp", path);
	FILE	   *f;
	int			rc = -1;

	f = fopen(tmp, "w");
	if (f == NULL)
	{
		wc_error_set(err, "could not create state file \"%s\": %s",
					 tmp, strerror(errno));
		goto done;
	}
	fprintf(f, "%s\nsystem_identifier %lu\nslot %s\ndatabase %s\nconfirmed_lsn %X/%X\n",
			STATE_MAGIC, state->system_identifier, state->slot,
			state->database, WC_LSN_ARGS(state->confirmed_lsn));
	for (int i = 0; i < state->nsubscribers; i++)
	{
		const StateSubscriber *sub = &state->subscribers[i];

		fprintf(f, "subscriber %s %X/%X %s\n", sub->name,
				WC_LSN_ARGS(sub->acked_lsn),
				sub->evicted ? "evicted" : "active");
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
	{
		wc_error_set(err, "could not write state file \"%s\": %s",
					 tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		goto done;
	}
	if (fclose(f) != 0)
	{
		wc_error_set(err, "could not write state file \"%s\": %s",
					 tmp, strerror(errno));
		unlink(tmp);
		goto done;
	}
	if (rename(tmp, path) != 0)
	{
		wc_error_set(err, "could not rename \"%s\" to \"%s\": %s",
					 tmp, path, strerror(errno));
		unlink(tmp);
		goto done;
	}
	rc = fsync_parent(path, err);

done:
	free(tmp);
	return rc;
}
