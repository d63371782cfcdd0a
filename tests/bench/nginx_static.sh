# nginx_static.sh: sourced by the service benchmarks (service_bench.sh,
# get_ab.sh). start_nginx_static DIR ANSWER_FILE starts nginx (Debian's,
# 2 workers) on a free loopback port serving ANSWER_FILE both as
# /answer.json and as /v1/consents whatever the query string (so that the
# same wrk Lua script drives consentd and nginx). Sets NPORT and NGINX_PID;
# the caller stops it (kill -QUIT "$NGINX_PID"). DIR is made world-readable
# (nginx workers run as www-data).

start_nginx_static() {
  local dir=$1 answer=$2
  local nginx
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$dir/nginx/www"
  chmod 755 "$dir" "$dir/nginx" "$dir/nginx/www"
  cp "$answer" "$dir/nginx/www/answer.json"
  chmod 644 "$dir/nginx/www/answer.json"
  cat > "$dir/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $dir/nginx; proxy_temp_path $dir/nginx; fastcgi_temp_path $dir/nginx;
  uwsgi_temp_path $dir/nginx; scgi_temp_path $dir/nginx;
  server {
    listen 127.0.0.1:$NPORT;
    root $dir/nginx/www;
    location / { default_type application/json; }
    location = /v1/consents { default_type application/json; try_files /answer.json =404; }
  }
}
EOF
  "$nginx" -c "$dir/nginx/nginx.conf" -p "$dir/nginx" &
  NGINX_PID=$!
  sleep 0.5
}
