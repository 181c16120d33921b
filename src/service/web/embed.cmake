# Embeds the web page into the tod binary as a C array: cmake -DIN=page.html -DOUT=page.c -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR nbytes "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){32})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}"
  "/* Generated from src/service/web/index.html by embed.cmake; do not edit. */\n"
  "#include <stddef.h>\n"
  "extern const unsigned char tod_service_page[];\n"
  "extern const size_t tod_service_page_len;\n"
  "const unsigned char tod_service_page[] = {\n${bytes}0x00};\n"
  "const size_t tod_service_page_len = ${nbytes};\n")
