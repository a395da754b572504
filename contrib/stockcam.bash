# bash completion for stockcam: source it, or copy it to
# /usr/share/bash-completion/completions/stockcam
_stockcam()
{
	local cur prev cmd opts
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=${COMP_WORDS[1]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "submit armstrong jobs get cancel watch
		    fetch health csv2xml --help --version --listen --data-dir" \
		    -- "$cur"))
		return
	fi
	case $prev in
	--state)
		COMPREPLY=($(compgen -W "queued running succeeded failed
		    canceled" -- "$cur"))
		return ;;
	--file|--out|--data-dir)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--server)
		COMPREPLY=($(compgen -W "http://127.0.0.1:8080" -- "$cur"))
		return ;;
	esac
	opts="--server --user --json"
	case $cmd in
	submit) opts="$opts --wait --detach --idempotency-key --file" ;;
	armstrong) opts="$opts --wait --detach" ;;
	jobs) opts="$opts --state --limit" ;;
	get) opts="$opts --symbols" ;;
	fetch) opts="$opts --out --xml" ;;
	csv2xml) opts="--max-field-size --max-columns --stats" ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _stockcam stockcam
