import FuzzDriver

runFuzzer { data, count in fuzz(data, count) }
