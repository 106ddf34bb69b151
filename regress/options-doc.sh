#!/usr/bin/env bash
#
# regress/options-doc.sh: every plugin option is documented, and every
# documented option exists
#
# The options are the names in option_table (plugin/options.c); the
# documentation is the options table of proto/walcast/v1/README.md, whose
# rows start with "| `name` |".  Prints what is missing on either side.
#
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
code=$(sed -n '/^static const OptionDef option_table/,/^};/p' \
	"$repo/plugin/options.c" | grep -o '^	{"[a-z-]*"' | tr -d '\t{"' | sort)
docs=$(sed -n '/^## Plugin options/,$p' "$repo/proto/walcast/v1/README.md" |
	grep -o '^| `[a-z-]*`' | tr -d '|` ' | sort)

[ -n "$code" ] || { echo "options-doc: error: no options found in plugin/options.c" >&2; exit 1; }
status=0
for name in $(comm -23 <(echo "$code") <(echo "$docs")); do
	echo "options-doc: option \"$name\" is not documented in proto/walcast/v1/README.md" >&2
	status=1
done
for name in $(comm -13 <(echo "$code") <(echo "$docs")); do
	echo "options-doc: documented option \"$name\" does not exist in plugin/options.c" >&2
	status=1
done
[ $status -eq 0 ] && echo "options-doc: $(echo "$code" | wc -l) options, all documented"
exit $status
