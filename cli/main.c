/* guesthouse: the command-line front end. */
#include <glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gh/accel-select.h"

static const char usage[] =
	"Usage: guesthouse COMMAND [OPTION...]\n"
	"\n"
	"Guesthouse runs virtual machines.\n"
	"\n"
	"Commands:\n"
	"  run       Run a VM headless, its console in this terminal\n"
	"  console   Attach this terminal to a running VM's serial console\n"
	"            (--serial unix:PATH); Ctrl-] detaches\n"
	"  info      Show which execution backends can run here, and how fast\n"
	"  help      Show this help (also: --help); `guesthouse run --help`\n"
	"            describes the run options\n"
	"  version   Show the version (also: --version)\n";

static void log_handler(const gchar *domain, GLogLevelFlags level,
			const gchar *msg, gpointer verbose)
{
	if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) && !verbose)
		return;
	fprintf(stderr, "guesthouse: %s\n", msg);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	setlocale(LC_ALL, "");
	if (!cmd || !strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "-h")) {
		fputs(usage, cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("guesthouse %s\n", GH_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "info")) {
		GString *s = g_string_new(NULL);

		if (argc > 2) {
			fprintf(stderr, "guesthouse info: unexpected argument "
				"'%s'\n", argv[2]);
			return 2;
		}
		gh_accel_describe(s);
		fputs(s->str, stdout);
		g_string_free(s, TRUE);
		return 0;
	}
	if (!strcmp(cmd, "console"))
		return gh_console(argc - 1, argv + 1);
	if (!strcmp(cmd, "run")) {
		struct gh_run_options o;
		struct gh_error err = { 0 };
		int ret = gh_run_parse(argc - 1, argv + 1, &o, &err);

		if (ret == 1)
			return 0;
		if (ret < 0) {
			fprintf(stderr, "guesthouse run: %s (see guesthouse run "
				"--help)\n", err.msg);
			return 2;
		}
		g_log_set_handler(G_LOG_DOMAIN, G_LOG_LEVEL_MASK |
				  G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
				  log_handler, o.verbose ? &o : NULL);
		ret = gh_run(&o);
		gh_run_options_clear(&o);
		return ret;
	}
	fprintf(stderr, "guesthouse: unknown command '%s' (see guesthouse "
		"--help)\n", cmd);
	return 2;
}
