# Varnish 7.1 in front of the benchmark origin. run.sh (through varnish.sh)
# replaces the @ORIGIN_HOST@ and @ORIGIN_PORT@ placeholders.
#
# Everything else is Varnish's built-in VCL, which already does what a shared
# cache should for this load: it caches GET and HEAD by Cache-Control
# max-age, coalesces concurrent misses of one object on its waiting list,
# and passes requests with Cookie or Authorization.
vcl 4.1;

backend origin {
    .host = "@ORIGIN_HOST@";
    .port = "@ORIGIN_PORT@";
    # Idle backend connections are kept and reused (backend_idle_timeout,
    # 60 s by default), the counterpart of nginx's upstream keepalive.
}

sub vcl_backend_response {
    # No grace: a hit is a fresh hit, as it is for Hoard and nginx here, and
    # an expired object is never served while it is refetched.
    set beresp.grace = 0s;
}
