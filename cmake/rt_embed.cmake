# Helpers shared by the script-mode generators that compile files into the binaries
# (schemas/embed_sql.cmake: migrations; consumer/api/web/embed_web.cmake: the dashboard).
# include() it from a `cmake -P` script.
include_guard(GLOBAL)

# rt_embed_array(OUTVAR FILE C_NAME): reads FILE and sets OUTVAR to a C definition
#   /* <basename> */
#   static const unsigned char C_NAME[] = {0x.., ... 0x00};
# 16 bytes a line, plus one trailing NUL (not part of the file) so an empty file still makes a
# valid array and SQL can be used as a C string. Bytes rather than a string literal, so no
# quoting, trigraph or literal length limit can corrupt the content. Also sets OUTVAR_SIZE (the
# file's size in bytes) and OUTVAR_HAS_NUL (TRUE when the file itself holds a NUL byte).
function(rt_embed_array outvar file cname)
  file(READ "${file}" _hex HEX)
  string(LENGTH "${_hex}" _hexlen)
  math(EXPR _size "${_hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
  string(FIND "${_bytes}" "0x00," _nul)
  if(_nul EQUAL -1)
    set(_has_nul FALSE)
  else()
    set(_has_nul TRUE)
  endif()
  string(REPEAT "0x..," 16 _row)
  string(REGEX REPLACE "(${_row})" "\\1\n    " _bytes "${_bytes}")
  get_filename_component(_base "${file}" NAME)
  set(${outvar} "/* ${_base} */\nstatic const unsigned char ${cname}[] = {\n    ${_bytes}0x00};\n\n"
      PARENT_SCOPE)
  set(${outvar}_SIZE ${_size} PARENT_SCOPE)
  set(${outvar}_HAS_NUL ${_has_nul} PARENT_SCOPE)
endfunction()

# rt_embed_write(OUT CONTENT): writes CONTENT to OUT only when it differs, so what depends on the
# generated file is not rebuilt needlessly.
function(rt_embed_write out content)
  if(EXISTS "${out}")
    file(READ "${out}" _old)
    if(_old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${out}" "${content}")
endfunction()
