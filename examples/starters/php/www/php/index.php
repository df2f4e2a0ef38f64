<?php
header("Content-Type: text/plain; charset=utf-8");
echo "Hello from PHP ", PHP_VERSION, ", pid ", getmypid(), "\n";
