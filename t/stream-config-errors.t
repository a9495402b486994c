# Stream upstreams: every configuration mistake stops nginx with a message
# naming the directive, the file and the line.
use Test::Nginx::Socket 'no_plan';

run_tests();

__DATA__

=== TEST 1: least_time with an http metric
--- main_config
    stream {
        upstream app {
            least_time header;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid parameter "header" of "least_time", expected "connect", "first_byte" or "last_byte" in \S+nginx\.conf:\d+/


=== TEST 2: least_time without an argument
--- main_config
    stream {
        upstream app {
            least_time;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid number of arguments in "least_time" directive in \S+nginx\.conf:\d+/


=== TEST 3: least_time with an unknown second argument
--- main_config
    stream {
        upstream app {
            least_time connect slowest;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid parameter "slowest" of "least_time", expected "inflight" in \S+nginx\.conf:\d+/


=== TEST 4: weighted_random two with an http metric
--- main_config
    stream {
        upstream app {
            weighted_random two least_time=header;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid parameter "least_time=header" of "weighted_random two", expected "least_conn", "least_time=connect", "least_time=first_byte" or "least_time=last_byte" in \S+nginx\.conf:\d+/


=== TEST 5: least_time after another balancing method
--- main_config
    stream {
        upstream app {
            least_conn;
            least_time first_byte;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"least_time" cannot follow another load balancing method or "keepalive" in upstream "app"; only one method is allowed, and it must come before "keepalive" in \S+nginx\.conf:\d+/


=== TEST 6: another balancing method after least_time
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            hash $remote_addr;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"least_time" in upstream "app" was replaced by another load balancing method; only one method is allowed in \S+nginx\.conf:\d+/


=== TEST 7: least_time twice
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            least_time last_byte;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"least_time" directive is duplicate in \S+nginx\.conf:\d+/


=== TEST 8: a half-life without a balancing method of the module
--- main_config
    stream {
        upstream app {
            upstream_latency_half_life 2s;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_half_life" needs "least_time" or "weighted_random" in the same upstream "app" in \S+nginx\.conf:\d+/


=== TEST 9: a half-life of zero
--- main_config
    stream {
        upstream app {
            least_time connect;
            upstream_latency_half_life 0;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid value "0" of "upstream_latency_half_life", expected a time from 1ms to 24h in \S+nginx\.conf:\d+/


=== TEST 10: a latency zone too small for the configured peers
--- main_config
    stream {
        upstream_latency_zone 32k;
        upstream app {
            least_time connect;
            server 127.0.0.1:2000;
            server 127.0.0.1:2001;
            server 127.0.0.1:2002;
            server 127.0.0.1:2003;
            server 127.0.0.1:2004;
            server 127.0.0.1:2005;
            server 127.0.0.1:2006;
            server 127.0.0.1:2007;
            server 127.0.0.1:2008;
            server 127.0.0.1:2009;
            server 127.0.0.1:2010;
            server 127.0.0.1:2011;
            server 127.0.0.1:2012;
            server 127.0.0.1:2013;
            server 127.0.0.1:2014;
            server 127.0.0.1:2015;
            server 127.0.0.1:2016;
            server 127.0.0.1:2017;
            server 127.0.0.1:2018;
            server 127.0.0.1:2019;
            server 127.0.0.1:2020;
            server 127.0.0.1:2021;
            server 127.0.0.1:2022;
            server 127.0.0.1:2023;
            server 127.0.0.1:2024;
            server 127.0.0.1:2025;
            server 127.0.0.1:2026;
            server 127.0.0.1:2027;
            server 127.0.0.1:2028;
            server 127.0.0.1:2029;
            server 127.0.0.1:2030;
            server 127.0.0.1:2031;
            server 127.0.0.1:2032;
            server 127.0.0.1:2033;
            server 127.0.0.1:2034;
            server 127.0.0.1:2035;
            server 127.0.0.1:2036;
            server 127.0.0.1:2037;
            server 127.0.0.1:2038;
            server 127.0.0.1:2039;
            server 127.0.0.1:2040;
            server 127.0.0.1:2041;
            server 127.0.0.1:2042;
            server 127.0.0.1:2043;
            server 127.0.0.1:2044;
            server 127.0.0.1:2045;
            server 127.0.0.1:2046;
            server 127.0.0.1:2047;
            server 127.0.0.1:2048;
            server 127.0.0.1:2049;
            server 127.0.0.1:2050;
            server 127.0.0.1:2051;
            server 127.0.0.1:2052;
            server 127.0.0.1:2053;
            server 127.0.0.1:2054;
            server 127.0.0.1:2055;
            server 127.0.0.1:2056;
            server 127.0.0.1:2057;
            server 127.0.0.1:2058;
            server 127.0.0.1:2059;
            server 127.0.0.1:2060;
            server 127.0.0.1:2061;
            server 127.0.0.1:2062;
            server 127.0.0.1:2063;
            server 127.0.0.1:2064;
            server 127.0.0.1:2065;
            server 127.0.0.1:2066;
            server 127.0.0.1:2067;
            server 127.0.0.1:2068;
            server 127.0.0.1:2069;
            server 127.0.0.1:2070;
            server 127.0.0.1:2071;
            server 127.0.0.1:2072;
            server 127.0.0.1:2073;
            server 127.0.0.1:2074;
            server 127.0.0.1:2075;
            server 127.0.0.1:2076;
            server 127.0.0.1:2077;
            server 127.0.0.1:2078;
            server 127.0.0.1:2079;
            server 127.0.0.1:2080;
            server 127.0.0.1:2081;
            server 127.0.0.1:2082;
            server 127.0.0.1:2083;
            server 127.0.0.1:2084;
            server 127.0.0.1:2085;
            server 127.0.0.1:2086;
            server 127.0.0.1:2087;
            server 127.0.0.1:2088;
            server 127.0.0.1:2089;
            server 127.0.0.1:2090;
            server 127.0.0.1:2091;
            server 127.0.0.1:2092;
            server 127.0.0.1:2093;
            server 127.0.0.1:2094;
            server 127.0.0.1:2095;
            server 127.0.0.1:2096;
            server 127.0.0.1:2097;
            server 127.0.0.1:2098;
            server 127.0.0.1:2099;
            server 127.0.0.1:2100;
            server 127.0.0.1:2101;
            server 127.0.0.1:2102;
            server 127.0.0.1:2103;
            server 127.0.0.1:2104;
            server 127.0.0.1:2105;
            server 127.0.0.1:2106;
            server 127.0.0.1:2107;
            server 127.0.0.1:2108;
            server 127.0.0.1:2109;
            server 127.0.0.1:2110;
            server 127.0.0.1:2111;
            server 127.0.0.1:2112;
            server 127.0.0.1:2113;
            server 127.0.0.1:2114;
            server 127.0.0.1:2115;
            server 127.0.0.1:2116;
            server 127.0.0.1:2117;
            server 127.0.0.1:2118;
            server 127.0.0.1:2119;
            server 127.0.0.1:2120;
            server 127.0.0.1:2121;
            server 127.0.0.1:2122;
            server 127.0.0.1:2123;
            server 127.0.0.1:2124;
            server 127.0.0.1:2125;
            server 127.0.0.1:2126;
            server 127.0.0.1:2127;
            server 127.0.0.1:2128;
            server 127.0.0.1:2129;
            server 127.0.0.1:2130;
            server 127.0.0.1:2131;
            server 127.0.0.1:2132;
            server 127.0.0.1:2133;
            server 127.0.0.1:2134;
            server 127.0.0.1:2135;
            server 127.0.0.1:2136;
            server 127.0.0.1:2137;
            server 127.0.0.1:2138;
            server 127.0.0.1:2139;
            server 127.0.0.1:2140;
            server 127.0.0.1:2141;
            server 127.0.0.1:2142;
            server 127.0.0.1:2143;
            server 127.0.0.1:2144;
            server 127.0.0.1:2145;
            server 127.0.0.1:2146;
            server 127.0.0.1:2147;
            server 127.0.0.1:2148;
            server 127.0.0.1:2149;
            server 127.0.0.1:2150;
            server 127.0.0.1:2151;
            server 127.0.0.1:2152;
            server 127.0.0.1:2153;
            server 127.0.0.1:2154;
            server 127.0.0.1:2155;
            server 127.0.0.1:2156;
            server 127.0.0.1:2157;
            server 127.0.0.1:2158;
            server 127.0.0.1:2159;
            server 127.0.0.1:2160;
            server 127.0.0.1:2161;
            server 127.0.0.1:2162;
            server 127.0.0.1:2163;
            server 127.0.0.1:2164;
            server 127.0.0.1:2165;
            server 127.0.0.1:2166;
            server 127.0.0.1:2167;
            server 127.0.0.1:2168;
            server 127.0.0.1:2169;
            server 127.0.0.1:2170;
            server 127.0.0.1:2171;
            server 127.0.0.1:2172;
            server 127.0.0.1:2173;
            server 127.0.0.1:2174;
            server 127.0.0.1:2175;
            server 127.0.0.1:2176;
            server 127.0.0.1:2177;
            server 127.0.0.1:2178;
            server 127.0.0.1:2179;
            server 127.0.0.1:2180;
            server 127.0.0.1:2181;
            server 127.0.0.1:2182;
            server 127.0.0.1:2183;
            server 127.0.0.1:2184;
            server 127.0.0.1:2185;
            server 127.0.0.1:2186;
            server 127.0.0.1:2187;
            server 127.0.0.1:2188;
            server 127.0.0.1:2189;
            server 127.0.0.1:2190;
            server 127.0.0.1:2191;
            server 127.0.0.1:2192;
            server 127.0.0.1:2193;
            server 127.0.0.1:2194;
            server 127.0.0.1:2195;
            server 127.0.0.1:2196;
            server 127.0.0.1:2197;
            server 127.0.0.1:2198;
            server 127.0.0.1:2199;
            server 127.0.0.1:2200;
            server 127.0.0.1:2201;
            server 127.0.0.1:2202;
            server 127.0.0.1:2203;
            server 127.0.0.1:2204;
            server 127.0.0.1:2205;
            server 127.0.0.1:2206;
            server 127.0.0.1:2207;
            server 127.0.0.1:2208;
            server 127.0.0.1:2209;
            server 127.0.0.1:2210;
            server 127.0.0.1:2211;
            server 127.0.0.1:2212;
            server 127.0.0.1:2213;
            server 127.0.0.1:2214;
            server 127.0.0.1:2215;
            server 127.0.0.1:2216;
            server 127.0.0.1:2217;
            server 127.0.0.1:2218;
            server 127.0.0.1:2219;
            server 127.0.0.1:2220;
            server 127.0.0.1:2221;
            server 127.0.0.1:2222;
            server 127.0.0.1:2223;
            server 127.0.0.1:2224;
            server 127.0.0.1:2225;
            server 127.0.0.1:2226;
            server 127.0.0.1:2227;
            server 127.0.0.1:2228;
            server 127.0.0.1:2229;
            server 127.0.0.1:2230;
            server 127.0.0.1:2231;
            server 127.0.0.1:2232;
            server 127.0.0.1:2233;
            server 127.0.0.1:2234;
            server 127.0.0.1:2235;
            server 127.0.0.1:2236;
            server 127.0.0.1:2237;
            server 127.0.0.1:2238;
            server 127.0.0.1:2239;
            server 127.0.0.1:2240;
            server 127.0.0.1:2241;
            server 127.0.0.1:2242;
            server 127.0.0.1:2243;
            server 127.0.0.1:2244;
            server 127.0.0.1:2245;
            server 127.0.0.1:2246;
            server 127.0.0.1:2247;
            server 127.0.0.1:2248;
            server 127.0.0.1:2249;
            server 127.0.0.1:2250;
            server 127.0.0.1:2251;
            server 127.0.0.1:2252;
            server 127.0.0.1:2253;
            server 127.0.0.1:2254;
            server 127.0.0.1:2255;
            server 127.0.0.1:2256;
            server 127.0.0.1:2257;
            server 127.0.0.1:2258;
            server 127.0.0.1:2259;
            server 127.0.0.1:2260;
            server 127.0.0.1:2261;
            server 127.0.0.1:2262;
            server 127.0.0.1:2263;
            server 127.0.0.1:2264;
            server 127.0.0.1:2265;
            server 127.0.0.1:2266;
            server 127.0.0.1:2267;
            server 127.0.0.1:2268;
            server 127.0.0.1:2269;
            server 127.0.0.1:2270;
            server 127.0.0.1:2271;
            server 127.0.0.1:2272;
            server 127.0.0.1:2273;
            server 127.0.0.1:2274;
            server 127.0.0.1:2275;
            server 127.0.0.1:2276;
            server 127.0.0.1:2277;
            server 127.0.0.1:2278;
            server 127.0.0.1:2279;
            server 127.0.0.1:2280;
            server 127.0.0.1:2281;
            server 127.0.0.1:2282;
            server 127.0.0.1:2283;
            server 127.0.0.1:2284;
            server 127.0.0.1:2285;
            server 127.0.0.1:2286;
            server 127.0.0.1:2287;
            server 127.0.0.1:2288;
            server 127.0.0.1:2289;
            server 127.0.0.1:2290;
            server 127.0.0.1:2291;
            server 127.0.0.1:2292;
            server 127.0.0.1:2293;
            server 127.0.0.1:2294;
            server 127.0.0.1:2295;
            server 127.0.0.1:2296;
            server 127.0.0.1:2297;
            server 127.0.0.1:2298;
            server 127.0.0.1:2299;
            server 127.0.0.1:2300;
            server 127.0.0.1:2301;
            server 127.0.0.1:2302;
            server 127.0.0.1:2303;
            server 127.0.0.1:2304;
            server 127.0.0.1:2305;
            server 127.0.0.1:2306;
            server 127.0.0.1:2307;
            server 127.0.0.1:2308;
            server 127.0.0.1:2309;
            server 127.0.0.1:2310;
            server 127.0.0.1:2311;
            server 127.0.0.1:2312;
            server 127.0.0.1:2313;
            server 127.0.0.1:2314;
            server 127.0.0.1:2315;
            server 127.0.0.1:2316;
            server 127.0.0.1:2317;
            server 127.0.0.1:2318;
            server 127.0.0.1:2319;
            server 127.0.0.1:2320;
            server 127.0.0.1:2321;
            server 127.0.0.1:2322;
            server 127.0.0.1:2323;
            server 127.0.0.1:2324;
            server 127.0.0.1:2325;
            server 127.0.0.1:2326;
            server 127.0.0.1:2327;
            server 127.0.0.1:2328;
            server 127.0.0.1:2329;
            server 127.0.0.1:2330;
            server 127.0.0.1:2331;
            server 127.0.0.1:2332;
            server 127.0.0.1:2333;
            server 127.0.0.1:2334;
            server 127.0.0.1:2335;
            server 127.0.0.1:2336;
            server 127.0.0.1:2337;
            server 127.0.0.1:2338;
            server 127.0.0.1:2339;
            server 127.0.0.1:2340;
            server 127.0.0.1:2341;
            server 127.0.0.1:2342;
            server 127.0.0.1:2343;
            server 127.0.0.1:2344;
            server 127.0.0.1:2345;
            server 127.0.0.1:2346;
            server 127.0.0.1:2347;
            server 127.0.0.1:2348;
            server 127.0.0.1:2349;
            server 127.0.0.1:2350;
            server 127.0.0.1:2351;
            server 127.0.0.1:2352;
            server 127.0.0.1:2353;
            server 127.0.0.1:2354;
            server 127.0.0.1:2355;
            server 127.0.0.1:2356;
            server 127.0.0.1:2357;
            server 127.0.0.1:2358;
            server 127.0.0.1:2359;
            server 127.0.0.1:2360;
            server 127.0.0.1:2361;
            server 127.0.0.1:2362;
            server 127.0.0.1:2363;
            server 127.0.0.1:2364;
            server 127.0.0.1:2365;
            server 127.0.0.1:2366;
            server 127.0.0.1:2367;
            server 127.0.0.1:2368;
            server 127.0.0.1:2369;
            server 127.0.0.1:2370;
            server 127.0.0.1:2371;
            server 127.0.0.1:2372;
            server 127.0.0.1:2373;
            server 127.0.0.1:2374;
            server 127.0.0.1:2375;
            server 127.0.0.1:2376;
            server 127.0.0.1:2377;
            server 127.0.0.1:2378;
            server 127.0.0.1:2379;
            server 127.0.0.1:2380;
            server 127.0.0.1:2381;
            server 127.0.0.1:2382;
            server 127.0.0.1:2383;
            server 127.0.0.1:2384;
            server 127.0.0.1:2385;
            server 127.0.0.1:2386;
            server 127.0.0.1:2387;
            server 127.0.0.1:2388;
            server 127.0.0.1:2389;
            server 127.0.0.1:2390;
            server 127.0.0.1:2391;
            server 127.0.0.1:2392;
            server 127.0.0.1:2393;
            server 127.0.0.1:2394;
            server 127.0.0.1:2395;
            server 127.0.0.1:2396;
            server 127.0.0.1:2397;
            server 127.0.0.1:2398;
            server 127.0.0.1:2399;
            server 127.0.0.1:2400;
            server 127.0.0.1:2401;
            server 127.0.0.1:2402;
            server 127.0.0.1:2403;
            server 127.0.0.1:2404;
            server 127.0.0.1:2405;
            server 127.0.0.1:2406;
            server 127.0.0.1:2407;
            server 127.0.0.1:2408;
            server 127.0.0.1:2409;
            server 127.0.0.1:2410;
            server 127.0.0.1:2411;
            server 127.0.0.1:2412;
            server 127.0.0.1:2413;
            server 127.0.0.1:2414;
            server 127.0.0.1:2415;
            server 127.0.0.1:2416;
            server 127.0.0.1:2417;
            server 127.0.0.1:2418;
            server 127.0.0.1:2419;
            server 127.0.0.1:2420;
            server 127.0.0.1:2421;
            server 127.0.0.1:2422;
            server 127.0.0.1:2423;
            server 127.0.0.1:2424;
            server 127.0.0.1:2425;
            server 127.0.0.1:2426;
            server 127.0.0.1:2427;
            server 127.0.0.1:2428;
            server 127.0.0.1:2429;
            server 127.0.0.1:2430;
            server 127.0.0.1:2431;
            server 127.0.0.1:2432;
            server 127.0.0.1:2433;
            server 127.0.0.1:2434;
            server 127.0.0.1:2435;
            server 127.0.0.1:2436;
            server 127.0.0.1:2437;
            server 127.0.0.1:2438;
            server 127.0.0.1:2439;
            server 127.0.0.1:2440;
            server 127.0.0.1:2441;
            server 127.0.0.1:2442;
            server 127.0.0.1:2443;
            server 127.0.0.1:2444;
            server 127.0.0.1:2445;
            server 127.0.0.1:2446;
            server 127.0.0.1:2447;
            server 127.0.0.1:2448;
            server 127.0.0.1:2449;
            server 127.0.0.1:2450;
            server 127.0.0.1:2451;
            server 127.0.0.1:2452;
            server 127.0.0.1:2453;
            server 127.0.0.1:2454;
            server 127.0.0.1:2455;
            server 127.0.0.1:2456;
            server 127.0.0.1:2457;
            server 127.0.0.1:2458;
            server 127.0.0.1:2459;
            server 127.0.0.1:2460;
            server 127.0.0.1:2461;
            server 127.0.0.1:2462;
            server 127.0.0.1:2463;
            server 127.0.0.1:2464;
            server 127.0.0.1:2465;
            server 127.0.0.1:2466;
            server 127.0.0.1:2467;
            server 127.0.0.1:2468;
            server 127.0.0.1:2469;
            server 127.0.0.1:2470;
            server 127.0.0.1:2471;
            server 127.0.0.1:2472;
            server 127.0.0.1:2473;
            server 127.0.0.1:2474;
            server 127.0.0.1:2475;
            server 127.0.0.1:2476;
            server 127.0.0.1:2477;
            server 127.0.0.1:2478;
            server 127.0.0.1:2479;
            server 127.0.0.1:2480;
            server 127.0.0.1:2481;
            server 127.0.0.1:2482;
            server 127.0.0.1:2483;
            server 127.0.0.1:2484;
            server 127.0.0.1:2485;
            server 127.0.0.1:2486;
            server 127.0.0.1:2487;
            server 127.0.0.1:2488;
            server 127.0.0.1:2489;
            server 127.0.0.1:2490;
            server 127.0.0.1:2491;
            server 127.0.0.1:2492;
            server 127.0.0.1:2493;
            server 127.0.0.1:2494;
            server 127.0.0.1:2495;
            server 127.0.0.1:2496;
            server 127.0.0.1:2497;
            server 127.0.0.1:2498;
            server 127.0.0.1:2499;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_zone" of 32k holds \d+ peers, but 500 are configured; it needs at least \d+k in \S+nginx\.conf:\d+/


=== TEST 11: the latency zone twice
--- main_config
    stream {
        upstream_latency_zone 64k;
        upstream_latency_zone 64k;
        upstream app {
            least_time connect;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_zone" directive is duplicate in \S+nginx\.conf:\d+/


=== TEST 12: least_time outside an upstream block
--- main_config
    stream {
        server { listen 127.0.0.1:1990; least_time connect;
                 proxy_pass 127.0.0.1:1991; }
    }
--- config
--- must_die
--- error_log eval
qr/"least_time" directive is not allowed here in \S+nginx\.conf:\d+/


=== TEST 13: slow start without a balancing method of the module
--- main_config
    stream {
        upstream app {
            upstream_latency_slow_start 5s;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_slow_start" needs "least_time" or "weighted_random" in the same upstream "app" in \S+nginx\.conf:\d+/


=== TEST 14: a slow start that is not a time
--- main_config
    stream {
        upstream app {
            least_time connect;
            upstream_latency_slow_start -1s;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid value "-1s" of "upstream_latency_slow_start", expected "off" or a time up to 1h in \S+nginx\.conf:\d+/
