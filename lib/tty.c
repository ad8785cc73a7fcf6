/*
 * The local terminal while a remote pty runs (run -t, ssh -t): raw here,
 * so keys go through untouched, and restored however we leave.
 */
#include <sys/ioctl.h>

#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "lib.h"

static struct termios	tty_saved;
static int		tty_is_raw;

void
tty_restore(void)
{
	if (tty_is_raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &tty_saved);
	tty_is_raw = 0;
}

/*
 * The remote pty's window size and TERM (as ssh's pty request carries
 * them), and raw mode if stdin is a tty.
 */
void
tty_setup(struct exec_req *r)
{
	static int registered;
	struct winsize ws;
	struct termios raw;
	const char *term = getenv("TERM");

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
		r->rows = ws.ws_row;
		r->cols = ws.ws_col;
	}
	if (term != NULL && strlen(term) <= SPN_EXEC_TERM_MAX)
		r->term = term;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &tty_saved) != 0)
		return;
	raw = tty_saved;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0) {
		tty_is_raw = 1;
		if (!registered++)
			atexit(tty_restore);
	}
}
