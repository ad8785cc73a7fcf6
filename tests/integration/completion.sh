#!/bin/sh
# Shell completion, driven for real: completion/spindle.bash sourced in
# bash --norc, alone and after bash-completion's bash_completion, its
# function (as `complete -p spindle` names it) called with COMP_WORDS,
# COMP_CWORD, COMP_LINE and COMP_POINT as bash sets them, COMPREPLY
# checked: every command of the command table (cli/spindle.c's cmds[],
# so one added there without completing fails here), every option of run
# and forward, -h/--help/-v/-q for every command, route names from the
# routes file and from the daemon (an inline route it holds), names that
# need quoting offered quoted, hop keywords, users after sudo=, hop
# options after ',', hosts of ~/.ssh/config and of a file it Includes,
# the command after run ROUTE --.  Then completion/_spindle in zsh -f
# with compinit, typed into a zpty: commands, options, route names, hops.
# spindle ls --names: never starts a daemon, never waits on a stuck one.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v bash >/dev/null 2>&1 || skip "no bash"
export HOME="$TMPD/home" SPINDLE_RUNTIME_DIR="$TMPD/rt"
export SPINDLE_ROUTES="$TMPD/routes"
mkdir -p "$HOME/.ssh/conf.d" "$TMPD/bin" || fail "mkdir"
ln -s "$SPINDLE" "$TMPD/bin/spindle" || fail "ln"
export PATH="$TMPD/bin:$PATH"
daemon_stop_on_exit

cat >"$HOME/.ssh/config" <<'EOF'
Host conf-host other-host
	HostName 127.0.0.1
Include conf.d/*.conf
Host *.wild !neg
	User x
EOF
printf 'Host included-host\n' >"$HOME/.ssh/conf.d/a.conf"
# An Include that ssh globs to nothing but that zsh, taking it for its
# own glob syntax, would run (a glob qualifier): completion must not.
printf 'Include conf.d/*.conf(#qe:echo>%s/zpwned:)\n' "$TMPD" \
    >>"$HOME/.ssh/config"
printf 'route webprod local\nroute a$b local+local\nroute b`id` local\n' \
    >"$SPINDLE_ROUTES"

# The command table, from the source: each &cmd_X_entry of cmds[], the
# .name of that entry.
CMDS=
for e in $(sed -n '/^static const struct cmd_entry \*cmds/,/^};/s/.*&\(cmd_[a-z_]*_entry\).*/\1/p' \
    "$SRC/cli/spindle.c"); do
	n=$(cat "$SRC"/cli/*.c | sed -n "/^const struct cmd_entry $e = {/,/^};/s/.*\.name = \"\([^\"]*\)\".*/\1/p")
	[ -n "$n" ] || fail "no name for $e in cli/*.c"
	CMDS="$CMDS $n"
done
[ "$(echo $CMDS | wc -w)" -ge 15 ] || fail "read the command table: $CMDS"

# ls --names: no daemon, none started; a stuck one does not hang it.
check "ls --names, no daemon" "webprod
a\$b
b\`id\`" "$("$SPINDLE" ls --names)"
[ -z "$(daemon_pid)" ] || fail "ls --names started a daemon"

# The checks, in bash; $1: a file to source first (bash_completion).
cat >"$TMPD/drive.bash" <<'EOF'
# With bash-completion, as installed: its loader finds the file by the
# command's name in XDG_DATA_DIRS' bash-completion/completions.
if [ -n "$1" ]; then
	. "$1"
	XDG_DATA_DIRS=$TMPD/share __load_completion spindle ||
	    { echo "bash-completion's loader did not load it"; exit 1; }
else
	. "$SRC/completion/spindle.bash"
fi
fn=$(complete -p spindle | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[ -n "$fn" ] || { echo "no completion function for spindle"; exit 1; }
bad=0
# comp LINE: complete at the end of LINE, COMPREPLY into R (one a line).
# COMP_WORDS as readline splits: at blanks, and at COMP_WORDBREAKS'
# = and : (a word of its own).
comp() {
	COMP_LINE=$1 COMP_POINT=${#1}
	local l=${1//=/ = }
	l=${l//:/ : }
	read -ra COMP_WORDS <<<"$l"
	[[ $1 == *[[:blank:]] || $1 == *[=:] ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	"$fn" spindle "${COMP_WORDS[COMP_CWORD]}" \
	    "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
	printf -v R '%s\n' "${COMPREPLY[@]}"
	R=$'\n'$R
}
# want LINE WORD...: completing LINE offers each WORD.
want() {
	local line=$1 w
	shift
	comp "$line"
	for w in "$@"; do
		[[ $R == *$'\n'"$w"$'\n'* ]] && continue
		echo "'$line<Tab>' does not offer '$w' (offers: $(echo $R))"
		bad=1
	done
}
# wantnot LINE WORD...: ... and never these.
wantnot() {
	local line=$1 w
	shift
	comp "$line"
	for w in "$@"; do
		[[ $R == *$'\n'"$w"$'\n'* ]] || continue
		echo "'$line<Tab>' offers '$w'"
		bad=1
	done
}

want "spindle " $CMDS
want "spindle -" --version --help -h -v -q
# (Once: the same code with bash-completion or without.)
[ -z "$1" ] && for c in $CMDS; do
	want "spindle $c -" -h --help -v -q
done
# run and forward: every option their --help lists.
for c in run forward; do
	opts=$(spindle $c --help | sed -n '/^Options:/,/^$/s/^ *\(-[^ ,]*\)\(, \(--[^ ]*\)\)\{0,1\}.*/\1 \3/p')
	[ $(echo $opts | wc -w) -ge 8 ] || echo "$c --help: options? $opts"
	want "spindle $c -" $opts
done
want "spindle run --ti" --timeout --timings
want "spindle forward -" -L -D -R -W --keep-going
# Route names: the routes file's, quoted when they must be.
want "spindle run web" webprod
want "spindle run a" 'a\$b'
want "spindle run b" 'b\`id\`'
want "spindle down " webprod 'a\$b' 
want "spindle up x " webprod local
# Hops: keywords, users, options, hosts (Include'd too).
want "spindle run a+su" a+su= a+sudo a+sudo=
want "spindle run sudo=" root
want "spindle run bastion+sudo=ro" root
want "spindle run bastion+" bastion+local bastion+sudo= bastion+su= \
    bastion+doas= bastion+conf-host bastion+other-host \
    bastion+included-host bastion+webprod
wantnot "spindle run bastion+" 'bastion+*.wild' bastion+\!neg
want "spindle run incl" included-host
want "spindle run web," web,port= web,identity= web,password
want "spindle run local+sudo," local+sudo,group= local+sudo,login
want "spindle check conf" conf-host
want "spindle exec -r conf" conf-host
want "spindle daemon " start stop status log
want "spindle gateway " connect status known-hosts authorize rekey
# The command run runs: a command, then its words.
want "spindle run webprod -- tru" true
want "spindle exec tru" true
want "spindle run -C $SRC/complet" "$SRC/completion/"
want "spindle run web,identity=$SRC/completion/_sp" "$SRC/completion/_spindle"
# A word of the line is text: never split into spindle's arguments (the
# command of a run), never expanded.
comp "spindle 'run local -- sh -c >$TMPD/bpwned' "
comp "spindle 'run local -- sh -c >$TMPD/bpwned' -"
comp "spindle '\$(echo>$TMPD/bpwned)' "
comp "spindle '\$(echo>$TMPD/bpwned)' -"
[[ -e $TMPD/bpwned ]] && { echo "completing ran a word of the line"; bad=1; }
# --help's usage is not globbed: [-cnst] of run where a file is named
# c, [--] of exec where one is named -.
mkdir -p "$TMPD/glob" && : >"$TMPD/glob/c" && : >"$TMPD/glob/-" &&
    cd "$TMPD/glob" && {
	want "spindle run web" webprod
	want "spindle exec tru" true
	cd - >/dev/null
}
exit $bad
EOF

# The daemon's routes: an inline one it holds, one up'd with a space in
# its name (offered quoted).
cat >"$TMPD/daemon.bash" <<'EOF'
. "$SRC/completion/spindle.bash"
COMP_LINE=$1 COMP_POINT=${#1} COMP_WORDS=($1 "") COMP_CWORD=2
_spindle spindle "" down 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"
EOF
dcomp() {
	SRC=$SRC bash --norc "$TMPD/daemon.bash" "spindle down " | sort
}
contains_line() {
	printf '%s\n' "$1" | grep -qxF -- "$2"
}
R=$(dcomp)
contains_line "$R" webprod || fail "down<Tab> without a daemon: $R"
contains_line "$R" local+local && fail "local+local offered before"
spindle daemon start >/dev/null 2>&1 || fail "daemon start"
spindle run local+local true || fail "run local+local"
spindle up 'my route' local >/dev/null 2>&1 || fail "up 'my route'"
# A name with a control byte cannot be printed one a line: left out.
spindle up "$(printf 'c\tx')" local >/dev/null 2>&1 || fail "up c<TAB>x"
spindle ls --names | grep -q '^c' && fail "ls --names prints c<TAB>x"
# Nor a C1 control (CSI: c2 9b in UTF-8, 9b alone in Latin-1).
spindle up "$(printf 'd\302\233x')" local >/dev/null 2>&1 || fail "up d<CSI>x"
spindle up "$(printf 'e\233x')" local >/dev/null 2>&1 || fail "up e<9b>x"
spindle ls | grep -q '^d' || fail "the daemon has no d<CSI>x: $(spindle ls)"
spindle ls --names | LC_ALL=C grep -q "$(printf '\233')" &&
    fail "ls --names prints a C1 control: $(spindle ls --names | od -c)"
R=$(dcomp)
for w in webprod 'a\$b' local+local 'my\ route'; do
	contains_line "$R" "$w" ||
	    fail "down<Tab> with a daemon does not offer $w: $(echo $R)"
done

# zsh: _spindle under zsh -f and compinit, typed into a pty; the line
# after Tab is saved by a widget of ours (^X^D).
cat >"$TMPD/z.zsh" <<'EOF'
zmodload zsh/zpty || exit 3
zpty z "zsh -f -i"
zpty -w z "PS1='ZP%# '; bindkey -e; fpath=($SRC/completion \$fpath); autoload -Uz compinit; compinit -u -D; zt_dump() { print -r -- \"\$BUFFER\" >| $ZTOUT.tmp && mv $ZTOUT.tmp $ZTOUT; BUFFER= }; zle -N zt_dump; bindkey '^X^D' zt_dump; echo RE""ADY"
zpty -r z out '*READY*'
zpty -r z out '*ZP[#%] *'
bad=0
# zt LINE WANT: LINE then Tab leaves WANT on the line.
zt() {
	local i got
	rm -f $ZTOUT
	zpty -w -n z "$1"$'\t\C-x\C-d'
	for i in {1..100}; do [[ -f $ZTOUT ]] && break; sleep 0.1; done
	got=$(<$ZTOUT)
	[[ -z $2 || $got == "$2" ]] && return
	print -r -- "zsh: '$1<Tab>' gives '$got', not '$2'"
	bad=1
}
zt "spindle bootstrap-s" "spindle bootstrap-size "
zt "spindle doc" "spindle doctor "
zt "spindle forward --keep-" "spindle forward --keep-going "
zt "spindle run webp" "spindle run webprod "
zt "spindle down my" "spindle down my\\ route "
zt "spindle run a" "spindle run a\\\$b "
zt "spindle down local+l" "spindle down local+local "
zt "spindle run local+doa" "spindle run local+doas="
zt "spindle run web,ide" "spindle run web,identity="
zt "spindle run inclu" "spindle run included-host "
zt "spindle run web,identity=$SRC/completion/_sp" "spindle run web,identity=$SRC/completion/_spindle "
# A quoted word of the line is text, never code (_call_program evals).
d=${ZTOUT:h}
zt "spindle '\$(echo>$d/zpwned2)' " ""
zt "spindle '\$(echo>$d/zpwned3)' -" ""
for f in zpwned2 zpwned3; do
	[[ -e $d/$f ]] || continue
	print -r -- "zsh: completing ran the \$(...) of a quoted word ($f)"
	bad=1
done
zpty -d z
exit $bad
EOF
# zsh runs meanwhile (it mostly waits on its pty).
ZPID=
if command -v zsh >/dev/null 2>&1; then
	SRC=$SRC ZTOUT=$TMPD/zt.out timeout 60 zsh -f "$TMPD/z.zsh" \
	    >"$TMPD/zout" 2>&1 &
	ZPID=$!
	track $ZPID
else
	log "no zsh: its completion untested"
fi

mkdir -p "$TMPD/share/bash-completion/completions" &&
    cp "$SRC/completion/spindle.bash" \
    "$TMPD/share/bash-completion/completions/spindle" || fail "cp"
for bc in "" /usr/share/bash-completion/bash_completion; do
	if [ -n "$bc" ] && [ ! -r "$bc" ]; then
		log "no $bc (bash-completion): only without it"
		continue
	fi
	# shellcheck disable=SC2097,SC2098
	TMPD=$TMPD SRC=$SRC CMDS=$CMDS bash --norc "$TMPD/drive.bash" "$bc" \
	    >"$TMPD/out" 2>&1 || {
		sed 's/^/  /' "$TMPD/out" >&2
		fail "bash completion ${bc:+with $bc}${bc:-without bash-completion}"
	}
done

if [ -n "$ZPID" ] && ! wait $ZPID; then
	sed 's/^/  /' "$TMPD/zout" >&2
	fail "zsh completion"
fi
[ -e "$TMPD/zpwned" ] &&
    fail "zsh completion ran a glob qualifier of an Include of ~/.ssh/config"

# A stuck daemon: ls --names does not wait for it.
D=$(daemon_pid)
[ -n "$D" ] || fail "no daemon pid"
kill -STOP "$D"
start=$(date +%s)
R=$(timeout 10 spindle ls --names)
rc=$?
kill -CONT "$D"
check "ls --names, stuck daemon: exit status" 0 $rc
check "ls --names, stuck daemon" "webprod
a\$b
b\`id\`" "$R"
[ $(($(date +%s) - start)) -le 3 ] || fail "ls --names waited on a stuck daemon"

pass
