<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_US">
<context>
    <name>ExtensionCard</name>
    <message numerus="yes">
        <location filename="../extension_card.py" line="169"/>
        <location filename="../extension_card.py" line="198"/>
        <source>✉ %n new</source>
        <translation>
            <numerusform>✉ %n new</numerusform>
            <numerusform>✉ %n new</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>ScriptEditor</name>
    <message numerus="yes">
        <location filename="../script_editor.py" line="418"/>
        <source>⚠ %n error(s); the first at line %1, column %2.</source>
        <translation>
            <numerusform>⚠ %n error; the first at line %1, column %2.</numerusform>
            <numerusform>⚠ %n errors; the first at line %1, column %2.</numerusform>
        </translation>
    </message>
</context>
</TS>
