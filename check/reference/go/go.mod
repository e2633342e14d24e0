module winddown.example/reference

go 1.19
