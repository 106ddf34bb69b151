/*-------------------------------------------------------------------------
 *
 * commands.h
 *		The commands of the walcast program; main.c dispatches on argv[1].
 *
 * Each command is one file (relay.c, tail.c, check.c) with one entry point
 * that parses its own options and returns the process exit code
 * (WC_EXIT_* in common.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_COMMANDS_H
#define WALCAST_COMMANDS_H

typedef int (*WcCommandMain) (int argc, char **argv);

typedef struct WcCommand
{
	const char *name;			/* argv[1] */
	WcCommandMain main;			/* its entry point */
	const char *summary;		/* one line for "walcast --help" */
} WcCommand;

extern int	relay_main(int argc, char **argv);
extern int	tail_main(int argc, char **argv);
extern int	check_main(int argc, char **argv);

#endif							/* WALCAST_COMMANDS_H */
