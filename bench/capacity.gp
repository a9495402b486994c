# The overload ramp of bench/capacity, which calls
#   gnuplot -e "data='FILE'; out='FILE.png'; day='DATE'; blocks=N" bench/capacity.gp
# data: one block per balancer, separated by two blank lines: a header line
# "title" "p99", then "level p99_ms" lines.

set terminal pngcairo size 1100,650 font "sans,10" noenhanced
set output out
set title "p99 against offered load, servers with a capacity (bench/capacity, ".day.")" font "sans,12"
set xlabel "offered load, % of the backends' nominal capacity (open loop)"
set ylabel "p99, ms (log scale)"
set logscale y
set grid
set key top left
plot for [i = 0 : blocks - 1] data index i using 1:2 with linespoints lw 2 \
     title columnheader(1)
