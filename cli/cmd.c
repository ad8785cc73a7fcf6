/*
 * A command's arguments, read from its entry (as tmux reads a cmd_entry):
 * options anywhere before "--", the positional words the command wants,
 * then, for a command that runs one, the first other word and all after
 * it are that command's, options or not.  So `run web ls -l` runs ls -l
 * while `run web -t -- top` and `up web ROUTE --ask-pass` take options
 * after the words, as `ssh host -v cmd` does.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int	cli_verbose;
int	cli_log_level = SPN_LOG_WARN;

/* The command being read or run, for messages. */
static const struct cmd_entry *cmd_current;

/* Every command's, and spindle's before the command. */
static const struct cmd_opt cmd_common_opts[] = {
	{ 'v', "verbose", NULL, "more messages (twice: debug)" },
	{ 'q', "quiet", NULL, "errors only" },
	{ 'h', "help", NULL, "this help" },
	{ 0, NULL, NULL, NULL }
};

static void
cmd_prefix(FILE *f, const struct cmd_entry *e)
{
	fprintf(f, "spindle%s%s: ", e != NULL && e->name != NULL ? " " : "",
	    e != NULL && e->name != NULL ? e->name : "");
}

/* A value given to a command is wrong: say so, naming the command. */
void
usage_error(const char *fmt, ...)
{
	va_list ap;

	cmd_prefix(stderr, cmd_current);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', stderr);
	exit(2);
}

/* The command line is wrong: say so, then how it goes. */
static void __attribute__((noreturn))
cmd_vusage_error(const struct cmd_entry *e, const char *fmt, va_list ap)
{
	cmd_prefix(stderr, e);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	cmd_print_usage(stderr, "usage: ", e);
	exit(2);
}

static void __attribute__((noreturn)) SPN_PRINTF(2, 3)
cmd_parse_error(const struct cmd_entry *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vusage_error(e, fmt, ap);
}

/* The command's words are wrong: as for the parser's errors. */
void
cmd_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_vusage_error(cmd_current, fmt, ap);
}

/* "no ROUTE given": word n of e->words is missing. */
static void __attribute__((noreturn))
cmd_missing(const struct cmd_entry *e, int n)
{
	const char *w = e->words != NULL ? e->words : "";
	size_t len;

	while ((len = strcspn(w, " ")) > 0 && n-- > 0)
		w += len + (w[len] == ' ');
	if (len == 0)
		cmd_parse_error(e, "too few arguments");
	cmd_parse_error(e, "no %.*s given", (int)len, w);
}

/* "LEAD spindle NAME USAGE", folded at 79 columns between groups. */
void
cmd_print_usage(FILE *f, const char *lead, const struct cmd_entry *e)
{
	const char *s = e->usage, *end;
	int col, indent, depth;

	col = indent = fprintf(f, "%sspindle%s%s", lead,
	    e->name != NULL ? " " : "", e->name != NULL ? e->name : "");
	while (*s != '\0') {
		for (end = s, depth = 0; *end != '\0' &&
		    (depth > 0 || *end != ' '); end++) {
			if (*end == '[')
				depth++;
			else if (*end == ']')
				depth--;
		}
		if (col > indent && col + 1 + (end - s) > 79) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		}
		col += fprintf(f, " %.*s", (int)(end - s), s);
		s = *end == ' ' ? end + 1 : end;
	}
	fputc('\n', f);
}

static void
cmd_print_opts(FILE *f, const struct cmd_opt *o)
{
	const char *h, *nl;
	char left[64];
	int len;

	for (; o != NULL && o->ch != 0; o++) {
		if (o->help == NULL)
			continue;
		if (o->ch < 256)
			len = snprintf(left, sizeof left, "-%c%s%s", o->ch,
			    o->name != NULL ? ", --" : "",
			    o->name != NULL ? o->name : "");
		else
			len = snprintf(left, sizeof left, "    --%s", o->name);
		if (o->arg != NULL && len < (int)sizeof left)
			snprintf(left + len, sizeof left - len, " %s", o->arg);
		fprintf(f, "  %-24s", left);
		if (strlen(left) > 24)
			fprintf(f, "\n%26s", "");
		for (h = o->help; (nl = strchr(h, '\n')) != NULL; h = nl + 1)
			fprintf(f, " %.*s\n%26s", (int)(nl - h), h, "");
		fprintf(f, " %s\n", h);
	}
}

/* The entry's options and the common ones: all getopt takes. */
void
cmd_print_options(FILE *f, const struct cmd_entry *e)
{
	cmd_print_opts(f, e->opts);
	cmd_print_opts(f, cmd_common_opts);
}

/* spindle CMD --help: its usage and its options. */
void
cmd_help(FILE *f, const struct cmd_entry *e)
{
	cmd_print_usage(f, "usage: ", e);
	fprintf(f, "\n%c%s.\n\nOptions:\n", toupper((u_char)*e->summary),
	    e->summary + 1);
	cmd_print_options(f, e);
	fprintf(f, "\nSee spindle(1).\n");
}

/* getopt_long's tables for the command's options and the common ones. */
static void
cmd_getopt_tables(const struct cmd_entry *e, char **optstring,
    struct option **longopts)
{
	const struct cmd_opt *sets[] = { e->opts, cmd_common_opts }, *o;
	struct option *lo;
	size_t n = 0, len;
	char *s;

	for (size_t i = 0; i < 2; i++)
		for (o = sets[i]; o != NULL && o->ch != 0; o++)
			n++;
	s = *optstring = xcalloc(1, 2 * n + 3);
	lo = *longopts = xcalloc(n + 1, sizeof *lo);
	len = strlen(strcpy(s, "+:"));
	for (size_t i = 0; i < 2; i++) {
		for (o = sets[i]; o != NULL && o->ch != 0; o++) {
			if (o->ch < 256) {
				s[len++] = o->ch;
				if (o->arg != NULL)
					s[len++] = ':';
			}
			if (o->name == NULL)
				continue;
			lo->name = o->name;
			lo->has_arg = o->arg != NULL ? required_argument :
			    no_argument;
			lo->val = o->ch;
			lo++;
		}
	}
}

/* getopt_long refused WORD: say why, as precisely as it can be told. */
static void __attribute__((noreturn))
cmd_bad_option(const struct cmd_entry *e, int ch, const char *word,
    const struct option *lo)
{
	const struct option *match = NULL;
	size_t len, n = 0;

	if (strncmp(word, "--", 2) != 0) {
		if (ch == ':')
			cmd_parse_error(e, "option '-%c' needs a value", optopt);
		cmd_parse_error(e, "unknown option '-%c'", optopt);
	}
	word += 2;
	len = strcspn(word, "=");
	for (; lo->name != NULL; lo++) {
		if (strncmp(lo->name, word, len) != 0)
			continue;
		if (lo->name[len] == '\0') {
			match = lo;
			n = 1;
			break;
		}
		match = lo;
		n++;
	}
	if (n > 1)
		cmd_parse_error(e, "ambiguous option '--%.*s'", (int)len, word);
	if (n == 0)
		cmd_parse_error(e, "unknown option '--%.*s'", (int)len, word);
	if (ch == ':')
		cmd_parse_error(e, "option '--%s' needs a value", match->name);
	cmd_parse_error(e, "option '--%s' takes no value", match->name);
}

void
cmd_parse(const struct cmd_entry *e, int argc, char **argv,
    struct cmd_args *a)
{
	struct option *lo;
	char *optstring;
	const char *word;
	int ch;

	memset(a, 0, sizeof *a);
	a->entry = cmd_current = e;
	a->opts = xcalloc(argc + 1, sizeof *a->opts);
	a->pos = xcalloc(argc + 1, sizeof *a->pos);
	cmd_getopt_tables(e, &optstring, &lo);
	opterr = 0;
	optind = 1;
	while (optind < argc) {
		word = argv[optind];
		if (strcmp(word, "--") == 0) {
			optind++;
			break;
		}
		if (*word != '-' || word[1] == '\0') {
			/* Once the words it wants are in, the command's. */
			if (a->npos == e->upper)
				break;
			a->pos[a->npos++] = argv[optind++];
			continue;
		}
		/* (Mid "-tn", optind is still on it: word is the same.) */
		ch = getopt_long(argc, argv, optstring, lo, NULL);
		if (ch == '?' || ch == ':')
			cmd_bad_option(e, ch, word, lo);
		if (ch == 'h') {
			a->help = 1;
			goto out;
		}
		if (ch == 'v') {
			cli_log_level = cli_log_level < SPN_LOG_INFO ?
			    SPN_LOG_INFO : SPN_LOG_DEBUG;
			cli_verbose++;
		} else if (ch == 'q')
			cli_log_level = SPN_LOG_ERROR;
		else {
			a->opts[a->nopts].ch = ch;
			a->opts[a->nopts++].arg = optarg;
		}
	}
	while (optind < argc && a->npos < e->upper)
		a->pos[a->npos++] = argv[optind++];
	if (optind < argc && (~e->flags & CMD_COMMAND))
		cmd_parse_error(e, "unexpected argument '%s'", argv[optind]);
	if (a->npos < e->lower)
		cmd_missing(e, a->npos);
	if ((e->flags & CMD_COMMAND) && (~e->flags & CMD_NOCOMMAND) &&
	    optind == argc)
		cmd_parse_error(e, "no COMMAND given");
	if (optind < argc) {
		a->argv = argv + optind;
		a->argc = argc - optind;
	}
out:
	free(optstring);
	free(lo);
}

void
cmd_args_free(struct cmd_args *a)
{
	free(a->opts);
	free(a->pos);
}
