# bash completion for spindle                              -*- shell-script -*-
#
# Installed as $(datadir)/bash-completion/completions/spindle (loaded on
# demand by the bash-completion package); works without that package too:
#	. completion/spindle.bash
# What it completes comes from the binary being completed, at each Tab:
# commands and options from its --help, route names from `spindle ls
# --names`, hop keywords and hop options from the ROUTE part of --help.
# Nothing here lists a command, so none is left out when one is added.
# Uses bash-completion's _known_hosts_real and _command_offset when
# present, else its own ~/.ssh/config reader and compgen.

# $1 as the shell would read it, quotes and backslashes gone (no
# expansion: a word being typed is not run).
_spindle_dequote()
{
	local s=$1 c q=
	REPLY=
	while [[ -n $s ]]; do
		c=${s:0:1} s=${s:1}
		if [[ $q == "'" ]]; then
			[[ $c == "'" ]] && q= || REPLY+=$c
		elif [[ $c == '\' ]]; then
			REPLY+=${s:0:1} s=${s:1}
		elif [[ $c == "'" || $c == '"' ]]; then
			[[ $q == "$c" ]] && q= || { [[ -z $q ]] && q=$c || REPLY+=$c; }
		else
			REPLY+=$c
		fi
	done
}

# The words of the line up to the cursor, split as the shell will (on
# unquoted blanks), into _spindle_words; the last is the one being
# completed ("" after a blank).
_spindle_split()
{
	local line=${COMP_LINE:0:COMP_POINT} w= q= c esc=
	_spindle_words=()
	while [[ -n $line ]]; do
		c=${line:0:1} line=${line:1}
		if [[ -n $esc ]]; then
			w+=$c esc=
		elif [[ $c == '\' && $q != "'" ]]; then
			w+=$c esc=1
		elif [[ -n $q ]]; then
			w+=$c
			[[ $c == "$q" ]] && q=
		elif [[ $c == "'" || $c == '"' ]]; then
			w+=$c q=$c
		elif [[ $c == [[:blank:]] ]]; then
			[[ -n $w ]] && _spindle_words+=("$w")
			w=
		else
			w+=$c
		fi
	done
	_spindle_words+=("$w")
}

# spindle [CMD] --help into _spindle_text, asked once a Tab.  CMD is a
# word of the line: one argument, as typed (never split, globbed or
# expanded: 'run local -- CMD' would run CMD); no -v on the array
# either, which expands a subscript twice in older bashes.
_spindle_help()
{
	[[ -n ${_spindle_helps[x$1]+1} ]] ||
	    _spindle_helps[x$1]=$("$_spindle_bin" ${1:+"$1"} --help \
	    2>/dev/null)
	_spindle_text=${_spindle_helps[x$1]}
}

# spindle [CMD] --help's option lines, as "NAMES|ARG" (ARG: its
# argument's name, or empty), from the Options section.
_spindle_opts()
{
	local line left
	_spindle_optlist=()
	_spindle_help "$1"
	while IFS= read -r line; do
		[[ $line == Options:* ]] && { left=1; continue; }
		[[ -z $left ]] && continue
		[[ -z $line ]] && break
		[[ $line =~ ^\ +(-[^ ,]+(,\ --[^ ]+)?|--[^ ]+)(\ [^ ]+)? ]] ||
		    continue
		left=${BASH_REMATCH[1]//,/}
		_spindle_optlist+=("$left|${BASH_REMATCH[3]# }")
	done <<<"$_spindle_text"
	left=
}

# The help's command table: "  spindle CMD ..." lines.
_spindle_commands()
{
	local line
	_spindle_cmdlist=()
	_spindle_help
	while IFS= read -r line; do
		[[ $line =~ ^\ \ spindle\ ([a-z][-a-z0-9]*) ]] &&
		    _spindle_cmdlist+=("${BASH_REMATCH[1]}")
	done <<<"$_spindle_text"
}

# spindle CMD --help's usage, its words left once the options' brackets
# are gone: the positional arguments ("ROUTE", "NAME|ROUTE",
# "start | stop", "COMMAND" ...), into _spindle_usage.
_spindle_usage_words()
{
	local line usage= w w2 w3 depth=0 keep ws
	_spindle_help "$1"
	while IFS= read -r line; do
		[[ -z $line ]] && break
		usage+=" ${line#usage: spindle "$1"}"
	done <<<"$_spindle_text"
	_spindle_usage=()
	# Split, not globbed: [-cnst] is no pattern for a file named c.
	read -ra ws <<<"$usage"
	for w in "${ws[@]}"; do
		# An option group, [-x ...] or {-L SPEC | ...}..., and what
		# it spans.
		if ((depth == 0)) && [[ $w != '[--]' ]] &&
		    [[ $w == \[-* || $w == \{-* ]]; then
			keep=
		elif ((depth == 0)); then
			keep=1
		fi
		w2=${w//[^\[\{]/}
		w3=${w//[^\]\}]/}
		((depth += ${#w2} - ${#w3}))
		[[ -n $keep ]] && _spindle_usage+=("$w")
	done
}

# Hosts of an ssh_config file into _spindle_hostlist: Host lines
# without patterns, Include'd files followed (relative ones from ~/.ssh).
_spindle_ssh_hosts()
{
	local f=$1 depth=$2 key val inc vals incs
	((depth > 8)) && return
	[[ -r $f ]] || return
	while read -r key val; do
		[[ $key == *=* ]] && val="${key#*=} $val" key=${key%%=*}
		val=${val#=}
		read -ra vals <<<"$val"		# (read: no globbing)
		case ${key,,} in
		host)
			for val in "${vals[@]}"; do
				[[ $val == *[*?!]* ]] || _spindle_hostlist+=("$val")
			done ;;
		include)
			for inc in "${vals[@]}"; do
				[[ $inc == \~/* ]] && inc=$HOME/${inc#\~/}
				[[ $inc == /* ]] || inc=$HOME/.ssh/$inc
				# A pattern: what it matches, as ssh globs it.
				# shellcheck disable=SC2206
				incs=($inc)
				for f in "${incs[@]}"; do
					_spindle_ssh_hosts "$f" $((depth + 1))
				done
			done ;;
		esac
	done <"$f"
}

# Hosts for $1 into _spindle_hostlist: bash-completion's when loaded.
_spindle_hosts()
{
	_spindle_hostlist=()
	if declare -F _known_hosts_real >/dev/null; then
		local -a COMPREPLY=()
		_known_hosts_real -a -- "$1"
		_spindle_hostlist=("${COMPREPLY[@]}")
	else
		_spindle_ssh_hosts /etc/ssh/ssh_config 0
		_spindle_ssh_hosts ~/.ssh/config 0
	fi
}

# The hop forms of the ROUTE section of spindle --help, each as
# "KEYWORDS|OPTIONS": keywords a hop starts with ("local", "sudo sudo=",
# "su=" ...; "" for an ssh host), options it takes after a comma
# ("port= identity= ... password ...").
_spindle_hops()
{
	local line form opts in=
	_spindle_hoplist=()
	_spindle_help
	while IFS= read -r line; do
		[[ $line == ROUTE\ is* ]] && { in=1; continue; }
		[[ -z $in ]] && continue
		[[ $line == "  e.g."* || -z $line ]] && break
		if [[ $line =~ ^\ \ ([^ ].*[^ ])\ \ +(.*)$ ]]; then
			_spindle_hop_add
			form=${BASH_REMATCH[1]} opts=${BASH_REMATCH[2]}
		else
			opts+=" $line"
		fi
	done <<<"$_spindle_text"
	_spindle_hop_add
}

# One hop form (form, opts of _spindle_hops) into _spindle_hoplist.
_spindle_hop_add()
{
	local f kws= o= w eqall=
	[[ -z $form ]] && return
	[[ $form == *OPT=VAL* ]] && eqall=1
	# Options: after "OPT:" in its text, or in "[,NAME=VAL]"; a
	# "(...)" after a word without '=' says it is a flag.
	local words=${opts//\[,/ OPT: } paren=0 prevw=
	[[ $words == *OPT:* ]] && words=${words#*OPT:} || words=
	words=${words//]/ }
	words=${words//"("/ ( }
	for w in $words; do
		case $w in
		'(')
			((paren++))
			[[ -n $prevw && $prevw != *=* ]] &&
			    o=${o% "$prevw="}" $prevw"
			continue ;;
		*')')
			((paren--))
			continue ;;
		esac
		((paren > 0)) && continue
		if [[ $w == *=* ]]; then
			o+=" ${w%%=*}="
		elif [[ -n $eqall ]]; then
			o+=" $w="
		else
			o+=" $w"
		fi
		prevw=$w
	done
	# Keywords: "local", "sudo[=USER]..." (sudo and sudo=), "su=USER";
	# a form in brackets ("[USER@]HOST") is an ssh host.
	for f in ${form//,/ }; do
		[[ $f == \[* || $f != [a-z]* ]] && continue
		w=${f%%[^a-z]*}
		case ${f#"$w"} in
		\[=*) kws+=" $w $w=" ;;
		=*) kws+=" $w=" ;;
		*) kws+=" $w" ;;
		esac
	done
	_spindle_hoplist+=("${kws# }|${o# }")
	form= opts=
}

# A ROUTE word: hops joined by '+', each with its options after ','.
# Candidates (whole words) into _spindle_cand.
_spindle_route()
{
	local cur=$1 names_only=$2 pre seg head kws opts o h k
	if [[ -n $names_only ]]; then
		_spindle_names "$cur"
		return
	fi
	pre=${cur%"${cur##*+}"} seg=${cur##*+}
	_spindle_hops
	if [[ $seg == *,* ]]; then
		head=${seg%%,*}
		local last=${seg##*,} before=${seg%"${seg##*,}"}
		[[ $head == *=* ]] && head=${head%%=*}=
		for h in "${_spindle_hoplist[@]}"; do
			kws=${h%%|*} opts=${h#*|}
			if [[ -z $kws ]]; then
				k=$h	# an ssh host, unless a keyword matches
				continue
			fi
			for o in $kws; do
				[[ $o == "$head" ]] && { k=$h; break 2; }
			done
		done
		if [[ $last == *=* ]]; then
			case ${last%%=*} in
			identity|config|*file)
				local f
				while IFS= read -r f; do
					_spindle_cand+=("$pre$before${last%%=*}=$f")
				done < <(compgen -f -- "${last#*=}")
				_spindle_nospace=1 ;;
			esac
			return
		fi
		for o in ${k#*|}; do
			[[ $o == "$last"* ]] && _spindle_cand+=("$pre$before$o")
		done
		_spindle_nospace=1
		return
	fi
	if [[ $seg == @(sudo|su|doas)=* ]]; then
		for o in $(compgen -u -- "${seg#*=}"); do
			_spindle_cand+=("$pre${seg%%=*}=$o")
		done
		return
	fi
	for h in "${_spindle_hoplist[@]}"; do
		for o in ${h%%|*}; do
			[[ $o == "$seg"* ]] && _spindle_cand+=("$pre$o")
		done
	done
	local user=
	[[ $seg == *@* ]] && user=${seg%%@*}@
	_spindle_hosts "${seg#*@}"
	for h in "${_spindle_hostlist[@]}"; do
		[[ -n $h && $user$h == "$seg"* ]] && _spindle_cand+=("$pre$user$h")
	done
	if [[ -z $user ]]; then
		_spindle_names "$seg" "$pre"
	fi
}

# Route names (from ls --names) starting with $1, after $2.
_spindle_names()
{
	local n
	while IFS= read -r n; do
		[[ $n == "$1"* ]] && _spindle_cand+=("$2$n")
	done < <("$_spindle_bin" ls --names 2>/dev/null)
}

_spindle()
{
	local _spindle_bin _spindle_words _spindle_cand=() _spindle_nospace=
	local _spindle_optlist _spindle_cmdlist _spindle_usage _spindle_hoplist
	local cur raw i w cmd= argof= o names arg npos=0 dashdash= slot REPLY
	local _spindle_hostlist
	local -A _spindle_helps
	local _spindle_text

	_spindle_split
	raw=${_spindle_words[-1]}
	_spindle_dequote "$raw"
	cur=$REPLY
	_spindle_dequote "${_spindle_words[0]}"
	_spindle_bin=$REPLY
	[[ $_spindle_bin == \~/* ]] && _spindle_bin=$HOME/${_spindle_bin#\~/}

	# Walk the words before the cursor: spindle's options, the command,
	# its options (and their arguments), its positional words.
	for ((i = 1; i < ${#_spindle_words[@]} - 1; i++)); do
		_spindle_dequote "${_spindle_words[i]}"
		w=$REPLY
		if [[ -n $argof ]]; then
			argof=
		elif [[ -z $dashdash && $w == -- ]]; then
			dashdash=1
		elif [[ -z $dashdash && $w == -?* ]]; then
			[[ $w == *=* ]] && continue
			_spindle_opts "$cmd"
			for o in "${_spindle_optlist[@]}"; do
				names=${o%%|*} arg=${o#*|}
				[[ -n $arg && " $names " == *" $w "* ]] && argof=$arg
			done
		elif [[ -z $cmd ]]; then
			cmd=$w
			_spindle_usage_words "$cmd"
		else
			slot=${_spindle_usage[npos]}
			((npos++))
			if [[ $slot == COMMAND || $slot == \[--\] && ${_spindle_usage[npos]} == COMMAND ]]; then
				[[ $slot == \[--\] ]] && ((npos++))
				_spindle_command $i
				return
			fi
			# A subcommand: "connect NAME | status": its words next.
			local j rest=()
			for ((j = npos - 1; j < ${#_spindle_usage[@]}; j++)); do
				[[ ${_spindle_usage[j]} == "$w" ]] || continue
				for ((j++; j < ${#_spindle_usage[@]}; j++)); do
					[[ ${_spindle_usage[j]} == '|' ]] && break
					rest+=("${_spindle_usage[j]}")
				done
				_spindle_usage=("${rest[@]}") npos=0
				break
			done
		fi
	done

	if [[ -n $argof ]]; then
		case $argof in
		*ROUTE*) _spindle_route "$cur" ;;
		DIR) _spindle_files -d "$cur" ;;
		FILE*) _spindle_files -f "$cur" ;;
		esac
	elif [[ -z $dashdash && $cur == -* ]]; then
		_spindle_opts "$cmd"
		for o in "${_spindle_optlist[@]}"; do
			for w in ${o%%|*}; do
				[[ $w == "$cur"* ]] && _spindle_cand+=("$w")
			done
		done
	elif [[ -z $cmd ]]; then
		_spindle_commands
		for o in "${_spindle_cmdlist[@]}"; do
			[[ $o == "$cur"* ]] && _spindle_cand+=("$o")
		done
	else
		_spindle_slot "$cur" $npos
		[[ -n $REPLY ]] && { _spindle_command $i; return; }
	fi
	_spindle_reply "$raw"
}

# Completion of the positional word at $2 of the usage, into
# _spindle_cand; REPLY set when it is the COMMAND (of run, exec).
_spindle_slot()
{
	local cur=$1 slot=${_spindle_usage[$2]} w
	REPLY=
	[[ $slot == \[--\] ]] && slot=${_spindle_usage[$2 + 1]}
	[[ -z $slot ]] && return
	slot=${slot#[} slot=${slot%]}
	case $slot in
	COMMAND)
		REPLY=1 ;;
	*ROUTE*)
		_spindle_route "$cur" ;;
	NAME)
		_spindle_route "$cur" 1 ;;
	FILE*)
		_spindle_files -f "$cur" ;;
	[a-z]*)
		# Alternatives: "start | stop | ...", "connect NAME | ...".
		for w in "${_spindle_usage[@]:$2}"; do
			[[ $w == [a-z]* && $w == "$cur"* ]] &&
			    _spindle_cand+=("$w")
		done ;;
	esac
}

_spindle_files()
{
	local f
	while IFS= read -r f; do
		_spindle_cand+=("$f")
	done < <(compgen "$1" -- "$2")
	_spindle_nospace=1
	[[ ${#_spindle_cand[@]} == 1 && -d ${_spindle_cand[0]} ]] &&
	    _spindle_cand[0]+=/
	[[ ${#_spindle_cand[@]} == 1 && ! -d ${_spindle_cand[0]%/} ]] &&
	    _spindle_nospace=
}

# The command run or exec runs, at word $1 of the line: as a command.
_spindle_command()
{
	local off=$(( ${#COMP_WORDS[@]} - ${#_spindle_words[@]} + $1 ))
	if declare -F _command_offset >/dev/null &&
	    [[ ${COMP_WORDS[off]} == "${_spindle_words[$1]}" ]]; then
		_command_offset $off
		return
	fi
	if (($1 == ${#_spindle_words[@]} - 1)); then
		mapfile -t COMPREPLY < <(compgen -c -- "${_spindle_words[-1]}")
	else
		mapfile -t COMPREPLY < <(compgen -f -- "${_spindle_words[-1]}")
	fi
}

# Into COMPREPLY, quoted for the shell, each past what readline takes
# as the word's start: after its last COMP_WORDBREAKS character ('=',
# ':') that is neither quoted nor escaped.  $1: the word as typed.
_spindle_reply()
{
	local c cut= i q= REPLY
	for ((i = 0; i < ${#1}; i++)); do
		c=${1:i:1}
		if [[ -n $q ]]; then
			[[ $c == "$q" ]] && q=
		elif [[ $c == '\' ]]; then
			((i++))
		elif [[ $c == [\'\"] ]]; then
			q=$c
		elif [[ $COMP_WORDBREAKS == *"$c"* ]]; then
			cut=${1:0:i+1}
		fi
	done
	_spindle_dequote "$cut"
	cut=$REPLY
	COMPREPLY=()
	for c in "${_spindle_cand[@]}"; do
		c=${c#"$cut"}
		# Quoted only when it must be (a route name with a space, a
		# '$'...): "web,port=" reads better than "web\,port=".
		if [[ $c == *[!-[:alnum:]_@%+=:,./~]* || $c == \~* ]]; then
			printf -v c %q "$c"
		fi
		COMPREPLY+=("$c")
	done
	if [[ -n $_spindle_nospace ]] || [[ ${#COMPREPLY[@]} == 1 &&
	    ${COMPREPLY[0]} == *[=+,@] ]]; then
		compopt -o nospace 2>/dev/null
	fi
}

complete -F _spindle spindle
