# Plots for bench/run, which calls
#   gnuplot -e "dir='PREFIX'; out='FILE.png'; day='DATE'; switch_s=N; slice_ms=N" bench/plot.gp
# from the data files it wrote in dir:
#   plot-heterogeneous.dat, plot-two_workers.dat   "label" p50_ms p99_ms
#   plot-degradation.dat   seconds after the switch, then the slow backend's
#                          share (%) per balancer; a header line of titles
# Top and middle: p50 and p99 per balancer, scenarios b and d (bars, log
# scale).  Bottom: the slow backend's share of requests over time, scenario c.

set terminal pngcairo size 1400,1500 font "sans,10" noenhanced
set output out
set multiplot title "nginx-upstream-latency benchmark, ".day." (medians of the runs)" font "sans,13"

# --- bars: b and d
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [1:300]
set ytics (1, 2, 5, 10, 20, 50, 100, 200)
set ylabel "latency, ms (log scale)"
set grid ytics
set key top right
set xtics scale 0
set bmargin 5
# the p99 bar's centre in a cluster of two bars and a gap of one: p99 labels
bar = 1.0 / 6

set size 1, 0.31
set origin 0, 0.65
set title "b. backends at 5, 5, 5, 100 ms; nginx 1 worker, HAProxy 1 thread"
plot dir."/plot-heterogeneous.dat" using 2:xtic(1) title "p50" lc rgb "#4477aa", \
     '' using 3 title "p99" lc rgb "#ee6677", \
     '' using ($0 + bar):3:(sprintf("%.1f", $3)) with labels offset 0, 0.7 notitle

set origin 0, 0.34
set title "d. the same, nginx 2 workers, HAProxy 2 threads"
plot dir."/plot-two_workers.dat" using 2:xtic(1) title "p50" lc rgb "#4477aa", \
     '' using 3 title "p99" lc rgb "#ee6677", \
     '' using ($0 + bar):3:(sprintf("%.1f", $3)) with labels offset 0, 0.7 notitle

# --- lines: c
unset logscale y
set style data linespoints
set size 1, 0.34
set origin 0, 0
set title sprintf("c. one of four 5 ms backends turns to 100 ms at 0 s: its share of the requests started in each %d ms", slice_ms)
set xlabel "seconds after the switch"
set ylabel "share of requests to the slow backend, %"
set xtics autofreq scale 1 font "sans,10"
set ytics autofreq
set yrange [0:40]
set grid xtics ytics
set key outside right top vertical
set bmargin 4
set arrow 1 from 0, graph 0 to 0, graph 1 nohead dt 2 lw 2 lc rgb "black"
set arrow 2 from graph 0, first 5 to graph 1, first 5 nohead dt 3 lc rgb "gray40"
set label 1 "5%" at graph 0.005, first 6.2 textcolor rgb "gray40"
# nginx's balancers and HAProxy dashed, the module's solid
array colour[7] = ["#bbbbbb", "#228833", "#66ccee", "#ee6677", "#aa3377", "#4477aa", "#ccbb44"]
array dash[7] = [2, 2, 2, 1, 1, 1, 4]
plot for [i=2:8] dir."/plot-degradation.dat" using 1:i title columnheader(i) \
     lw 2 pt 7 ps 0.6 lc rgb colour[i - 1] dt dash[i - 1]

unset multiplot
