# shellcheck shell=bash
# Starts a private PostgreSQL cluster under .local/ for development or tests
# and exports DATABASE_URL. Sourced by scripts/dev and scripts/test.
#
#   pg_start NAME PORT [extra postgres -c settings...]
#
# When DATABASE_URL is already set it is used as it is and nothing starts.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

pg_bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		if [[ -x "$d/initdb" ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

pg_install() {
	if pg_bindir >/dev/null; then
		return 0
	fi
	echo "PostgreSQL binaries not found; installing Debian's postgresql package" >&2
	if [[ $(id -u) -ne 0 ]]; then
		echo "need root to install postgresql; install it or set DATABASE_URL" >&2
		return 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
	pg_bindir >/dev/null
}

# pg_as runs a PostgreSQL command as an unprivileged user: PostgreSQL refuses
# to run as root.
pg_as() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	local name=$1 port=$2
	shift 2
	if [[ -n "${DATABASE_URL:-}" ]]; then
		return 0
	fi
	pg_install
	local bin dir data run log
	bin=$(pg_bindir)
	dir="$ROOT/.local/$name"
	data="$dir/data"
	run="$dir/run"
	log="$dir/postgres.log"
	mkdir -p "$ROOT/.local"
	if [[ $(id -u) -eq 0 ]]; then
		id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
		# A checkout the postgres user cannot enter (root's home, a mode-700
		# folder): the cluster lives in a folder of its own that postgres
		# owns, and .local/NAME points at it.
		if [[ ! -L $dir ]] && ! runuser -u postgres -- test -x "$ROOT/.local"; then
			local elsewhere
			elsewhere=/var/lib/postgresql/ipsbridge/$(echo "$ROOT" | sha256sum | cut -c1-12)/$name
			echo "the postgres user cannot enter $ROOT; keeping the $name cluster in $elsewhere" >&2
			mkdir -p "$elsewhere"
			if [[ -d $dir ]]; then
				cp -a "$dir/." "$elsewhere/" && rm -rf "$dir"
			fi
			ln -s "$elsewhere" "$dir"
		fi
	fi
	# postgres reaches the cluster by its own path, not through the link.
	[[ -L $dir ]] && dir=$(readlink -f "$dir") && data="$dir/data" && run="$dir/run" && log="$dir/postgres.log"
	mkdir -p "$run"
	if [[ $(id -u) -eq 0 ]]; then
		chown -R postgres: "$dir/"
	fi
	if [[ ! -s "$data/PG_VERSION" ]]; then
		echo "initdb: new private cluster in $data" >&2
		pg_as "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; return 1; }
	fi
	if pg_as "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		# Running already: on the port it was started on.
		port=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || echo "$port")
	else
		# Another checkout's cluster (or anything else) on the port: take
		# the next free one, and keep it for this checkout.
		[[ -s $dir/port ]] && port=$(<"$dir/port")
		local wanted=$port
		while (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
			port=$((port + 1))
			((port < wanted + 50)) || { echo "no free port for PostgreSQL in $wanted-$port" >&2; return 1; }
		done
		[[ $port == "$wanted" ]] || echo "port $wanted is taken (another checkout's cluster?); $name uses $port" >&2
		echo "$port" >"$dir/port"
		local opts="-p $port -k $run -c listen_addresses=127.0.0.1 -c max_connections=300"
		local s
		for s in "$@"; do opts+=" -c $s"; done
		pg_as "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "$opts" start >/dev/null ||
			{ tail -20 "$log" >&2; return 1; }
	fi
	export PGBIN="$bin" PGDATA_DIR="$data"
	export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

pg_stop() {
	local name=$1 bin data
	bin=$(pg_bindir) || return 0
	data=$(readlink -f "$ROOT/.local/$name")/data
	[[ -s "$data/PG_VERSION" ]] || return 0
	pg_as "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
}

# pg_psql runs psql (from the cluster's binaries, else from PATH) with the
# given arguments; it needs no superuser on the client side.
pg_psql() {
	local psql=
	if [[ -n "${PGBIN:-}" && -x "$PGBIN/psql" ]]; then
		psql="$PGBIN/psql"
	elif command -v psql >/dev/null 2>&1; then
		psql=psql
	elif pg_bindir >/dev/null; then
		psql="$(pg_bindir)/psql"
	else
		echo "psql not found; install PostgreSQL's client (Debian: postgresql-client)" >&2
		return 1
	fi
	"$psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

# pg_url_with_db URL NAME prints URL (URL or keyword/value form) pointing at
# database NAME instead.
pg_url_with_db() {
	local url=$1 name=$2
	if [[ $url =~ ^(postgres(ql)?://[^/?]*)(/[^?]*)?(\?.*)?$ ]]; then
		echo "${BASH_REMATCH[1]}/$name${BASH_REMATCH[4]}"
	elif [[ $url == *://* ]]; then
		echo "cannot parse DATABASE_URL '$url'" >&2
		return 1
	else
		# In keyword/value form a later keyword wins.
		echo "$url dbname=$name"
	fi
}

# pg_ensure_database NAME creates database NAME through DATABASE_URL's
# connection when it does not exist yet.
pg_ensure_database() {
	local name=$1 exists
	[[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "bad database name '$name'" >&2; return 1; }
	exists=$(pg_psql "$DATABASE_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'") || return 1
	if [[ $exists != 1 ]]; then
		echo "creating database $name" >&2
		pg_psql "$DATABASE_URL" -c "CREATE DATABASE $name" || return 1
	fi
}
