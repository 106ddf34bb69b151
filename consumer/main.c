/*-------------------------------------------------------------------------
 *
 * main.c
 *		The walcast program: "walcast COMMAND [OPTION]...".
 *
 * Dispatches to the command named by the first argument; each command
 * parses its own options.
 *
 *-------------------------------------------------------------------------
 */
#include "commands.h"
#include "common.h"

#include <stdio.h>
#include <string.h>

static const WcCommand commands[] = {
	{"relay", relay_main, "stream a replication slot to ZeroMQ subscribers"},
	{"tail", tail_main, "print a relay's stream as JSON lines"},
	{"check", check_main, "check a server for walcast and print the exact fixes"},
	{NULL, NULL, NULL}
};

static void
usage(FILE *out)
{
	const WcCommand *cmd;

	fprintf(out, "walcast streams PostgreSQL changes from a walcast replication slot to\n"
			"ZeroMQ subscribers, and checks servers for it.\n\n");
	fprintf(out, "Usage:\n  walcast COMMAND [OPTION]...\n\nCommands:\n");
	for (cmd = commands; cmd->name; cmd++)
		fprintf(out, "  %-8s %s\n", cmd->name, cmd->summary);
	fprintf(out, "\nOptions:\n"
			"  -V, --version  output version information, then exit\n"
			"  -?, --help     show this help, then exit\n"
			"\n\"walcast COMMAND --help\" shows the options of one command.\n");
}

int
main(int argc, char **argv)
{
	const WcCommand *cmd;

	if (argc < 2)
	{
		usage(stderr);
		return WC_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0 ||
		strcmp(argv[1], "help") == 0)
	{
		usage(stdout);
		return WC_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
	{
		printf("walcast " WALCAST_VERSION "\n");
		return WC_EXIT_OK;
	}
	for (cmd = commands; cmd->name; cmd++)
	{
		if (strcmp(argv[1], cmd->name) == 0)
			return cmd->main(argc - 1, argv + 1);
	}
	wc_error("unrecognized command \"%s\"", argv[1]);
	wc_log_hint("Try \"walcast --help\" for more information.");
	return WC_EXIT_USAGE;
}
