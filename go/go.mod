module asyncbench

go 1.25
