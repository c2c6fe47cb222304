#!/bin/sh
# Regenerates the shipped voicemail greetings (see README.md). Needs espeak-ng and sox (Debian
# packages espeak-ng, sox). Output: 8 kHz mono 16-bit signed PCM WAV, peak at -3 dBFS, leading and
# trailing silence trimmed.
set -eu
cd "$(dirname "$0")"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

say() { # voice speed text output
    espeak-ng -v "$1" -s "$2" -w "$TMP/tts.wav" "$3"
    sox "$TMP/tts.wav" -r 8000 -c 1 -b 16 -e signed-integer "$4" \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -3
}

mkdir -p en zh
say en 160 "The person you are calling is busy. Please leave a message after the tone." en/busy.wav
say en 160 "The person you are calling is not available. Please leave a message after the tone." en/unavailable.wav
say en 160 "You have reached the voicemail box. Please leave a message after the tone." en/default.wav
# Mandarin: the "cmn-latn-pinyin" voice. espeak-ng 1.51's cmn dictionary turns the characters into
# tone-numbered pinyin; the plain "cmn" voice then reads that pinyin as English ("nin two …"), the
# pinyin voice reads it as Mandarin.
say cmn-latn-pinyin 160 "您拨打的用户正忙，请在提示音后留言。" zh/busy.wav
say cmn-latn-pinyin 160 "您拨打的用户暂时无法接听，请在提示音后留言。" zh/unavailable.wav
say cmn-latn-pinyin 160 "您已进入语音信箱，请在提示音后留言。" zh/default.wav
# The tone: 0.4 s of 1 kHz at half scale, 10 ms fades so it does not click.
sox -n -r 8000 -c 1 -b 16 -e signed-integer beep.wav synth 0.4 sine 1000 vol 0.5 fade t 0.01 0.4 0.01
