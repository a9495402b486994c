# nginx compiles C++ sources with the C flags; add the C++ ones per object.
for ngx_latency_src in $UPSTREAM_LATENCY_SRCS
do
    ngx_latency_obj=`basename $ngx_latency_src .cpp`
    ngx_latency_dir=`dirname $ngx_latency_src`
    ngx_latency_dir=`basename $ngx_latency_dir`

    cat << END >> $NGX_MAKEFILE

$NGX_OBJS/addon/$ngx_latency_dir/$ngx_latency_obj.o: \
	CFLAGS += -std=c++17 -fvisibility=hidden
END
done
