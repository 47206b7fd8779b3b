/** ASCII bytes that code reading UTF-8 text as bytes looks for: no byte of a multi-byte character is one of them. */
export const TAB = 0x09;
export const NEWLINE = 0x0a;
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;
export const OPEN_BRACE = 0x7b;
export const CLOSE_BRACE = 0x7d;
