<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>AboutDialog</name>
    <message>
        <location filename="../about_dialog.py" line="73"/>
        <location filename="../about_dialog.py" line="74"/>
        <source>About LabPBX</source>
        <translation>关于 LabPBX</translation>
    </message>
    <message>
        <location filename="../about_dialog.py" line="75"/>
        <source>LabPBX %1</source>
        <translation>LabPBX %1</translation>
    </message>
    <message>
        <location filename="../about_dialog.py" line="78"/>
        <source>LabPBX&apos;s own source code is under the MIT licence. This installed program also contains pjproject (GPL-2.0-or-later) and Qt (LGPL-3.0), so the program as a whole is distributed under the GNU General Public License, version 3 or later. Qt&apos;s libraries are separate files in the installation folder and can be replaced.</source>
        <translation>LabPBX 自身的源代码采用 MIT 许可证。本安装程序还包含 pjproject（GPL-2.0-or-later）和 Qt（LGPL-3.0），因此整个程序按 GNU 通用公共许可证第 3 版或更高版本分发。Qt 的库是安装文件夹中的独立文件，可以替换。</translation>
    </message>
    <message>
        <location filename="../about_dialog.py" line="85"/>
        <source>This is LabPBX run from source, under the MIT licence. The libraries it uses are installed separately, each under its own licence (listed below).</source>
        <translation>这是从源代码运行的 LabPBX，采用 MIT 许可证。它使用的库是单独安装的，各自采用自己的许可证（见下方列表）。</translation>
    </message>
    <message>
        <location filename="../about_dialog.py" line="88"/>
        <source>Licence texts: %1</source>
        <translation>许可证全文：%1</translation>
    </message>
    <message>
        <location filename="../about_dialog.py" line="89"/>
        <source>Third-party components and their licences:</source>
        <translation>第三方组件及其许可证：</translation>
    </message>
    <message>
        <location filename="../about_dialog.py" line="90"/>
        <source>Third-party notices</source>
        <translation>第三方声明</translation>
    </message>
</context>
<context>
    <name>AvpDialog</name>
    <message>
        <location filename="../avp_dialog.py" line="63"/>
        <source>Edit AVP %1</source>
        <translation>编辑 AVP %1</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="64"/>
        <source>Add an AVP</source>
        <translation>添加 AVP</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="65"/>
        <source>&amp;Owner (user@domain):</source>
        <translation>所有者(&amp;O)（user@domain）：</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="66"/>
        <source>&amp;Attribute:</source>
        <translation>属性(&amp;A)：</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="66"/>
        <source>&amp;Type:</source>
        <translation>类型(&amp;T)：</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="67"/>
        <source>&amp;Value:</source>
        <translation>值(&amp;V)：</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="71"/>
        <source>Owner of the AVP (user@domain, or a uuid)</source>
        <translation>AVP 的所有者（user@domain 或 uuid）</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="72"/>
        <source>The domain needs a dot (an IP address such as 127.0.0.1): user@localhost would be stored as a uuid that avp_db_load(&quot;$ru&quot;) never finds.</source>
        <translation>域名中需要有点号（例如 IP 地址 127.0.0.1）：user@localhost 会被存成 uuid，avp_db_load(&quot;$ru&quot;) 永远找不到它。</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="75"/>
        <source>Attribute name</source>
        <translation>属性名</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="76"/>
        <source>AVP type</source>
        <translation>AVP 类型</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="77"/>
        <source>AVP value</source>
        <translation>AVP 值</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="78"/>
        <source>Save or cancel</source>
        <translation>保存或取消</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="81"/>
        <source>Save the AVP</source>
        <translation>保存 AVP</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="83"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../avp_dialog.py" line="84"/>
        <source>What is wrong with the entry</source>
        <translation>输入有什么问题</translation>
    </message>
</context>
<context>
    <name>CallsModel</name>
    <message>
        <location filename="../calls_view.py" line="83"/>
        <source>#</source>
        <translation>#</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="83"/>
        <source>Caller</source>
        <translation>主叫</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="83"/>
        <source>Callee</source>
        <translation>被叫</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="83"/>
        <source>Start</source>
        <translation>开始时间</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="84"/>
        <source>Duration</source>
        <translation>时长</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="84"/>
        <source>Outcome</source>
        <translation>结果</translation>
    </message>
</context>
<context>
    <name>CallsView</name>
    <message>
        <location filename="../calls_view.py" line="220"/>
        <source>Calls</source>
        <translation>呼叫</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="221"/>
        <source>&amp;Follow the newest call</source>
        <translation>跟随最新呼叫(&amp;F)</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="222"/>
        <source>Follow the newest call</source>
        <translation>跟随最新呼叫</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="223"/>
        <source>E&amp;xport ladder…</source>
        <translation>导出信令流程图(&amp;X)…</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="224"/>
        <source>Export the ladder as SVG, PNG or text</source>
        <translation>将信令流程图导出为 SVG、PNG 或文本</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="225"/>
        <source>Selected call</source>
        <translation>所选呼叫</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="315"/>
        <source>SVG image (*.svg)</source>
        <translation>SVG 图像 (*.svg)</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="315"/>
        <source>PNG image (*.png)</source>
        <translation>PNG 图像 (*.png)</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="316"/>
        <source>Text (*.txt)</source>
        <translation>文本 (*.txt)</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="318"/>
        <location filename="../calls_view.py" line="328"/>
        <source>Export ladder</source>
        <translation>导出信令流程图</translation>
    </message>
    <message>
        <location filename="../calls_view.py" line="329"/>
        <source>The ladder could not be saved: %1</source>
        <translation>无法保存信令流程图：%1</translation>
    </message>
</context>
<context>
    <name>DoctorDialog</name>
    <message>
        <location filename="../doctor_dialog.py" line="76"/>
        <location filename="../doctor_dialog.py" line="77"/>
        <source>System check</source>
        <translation>系统检查</translation>
    </message>
    <message>
        <location filename="../doctor_dialog.py" line="78"/>
        <source>System check report</source>
        <translation>系统检查报告</translation>
    </message>
    <message>
        <location filename="../doctor_dialog.py" line="79"/>
        <source>&amp;Check again</source>
        <translation>重新检查(&amp;C)</translation>
    </message>
    <message>
        <location filename="../doctor_dialog.py" line="80"/>
        <source>Run the system check again</source>
        <translation>重新运行系统检查</translation>
    </message>
    <message>
        <location filename="../doctor_dialog.py" line="81"/>
        <source>C&amp;opy report</source>
        <translation>复制报告(&amp;O)</translation>
    </message>
    <message>
        <location filename="../doctor_dialog.py" line="82"/>
        <source>Copy the report to the clipboard</source>
        <translation>将报告复制到剪贴板</translation>
    </message>
    <message>
        <location filename="../doctor_dialog.py" line="92"/>
        <source>Checking this computer for the lab…</source>
        <translation>正在检查这台计算机能否运行实验环境…</translation>
    </message>
    <message>
        <location filename="../doctor_dialog.py" line="95"/>
        <source>%1 check(s) failed: the lab cannot run until they are fixed (each has its fix below).</source>
        <translation>%1 项检查未通过：修复之前实验环境无法运行（每项的解决方法见下方）。</translation>
    </message>
    <message>
        <location filename="../doctor_dialog.py" line="98"/>
        <source>The lab can run; %1 warning(s) below, each with its fix.</source>
        <translation>实验环境可以运行；下方有 %1 条警告，每条都附有解决方法。</translation>
    </message>
    <message>
        <location filename="../doctor_dialog.py" line="100"/>
        <source>Everything the lab needs is here.</source>
        <translation>实验环境所需的一切都已具备。</translation>
    </message>
    <message>
        <location filename="../doctor_dialog.py" line="131"/>
        <source>The check itself failed: %1</source>
        <translation>检查本身出错：%1</translation>
    </message>
</context>
<context>
    <name>ExtensionCard</name>
    <message>
        <location filename="../extension_card.py" line="137"/>
        <source>Extension %1</source>
        <translation>分机 %1</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="140"/>
        <source>Answer policy of %1</source>
        <translation>%1 的应答策略</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="141"/>
        <source>Policy:</source>
        <translation>策略：</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="142"/>
        <source> s</source>
        <translation> 秒</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="143"/>
        <source>Ring time before %1 answers</source>
        <translation>%1 应答前的振铃时间</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="144"/>
        <source>Set</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="145"/>
        <source>Set the answer policy of %1</source>
        <translation>设置 %1 的应答策略</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="146"/>
        <source>An extension, the voicemail number or a sip: URI</source>
        <translation>分机号、语音信箱号码或 sip: URI</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="147"/>
        <source>Whom %1 calls</source>
        <translation>%1 呼叫的对象</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="148"/>
        <source>Call</source>
        <translation>呼叫</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="149"/>
        <source>Call from %1</source>
        <translation>从 %1 发起呼叫</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="150"/>
        <source>Answer</source>
        <translation>接听</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="151"/>
        <source>Answer the call to %1</source>
        <translation>接听打给 %1 的来电</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="152"/>
        <source>Busy (486)</source>
        <translation>忙线 (486)</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="154"/>
        <source>Reject the call to %1 as busy (486 Busy Here)</source>
        <translation>以忙线拒接打给 %1 的来电（486 Busy Here）</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="155"/>
        <source>Decline (603)</source>
        <translation>拒绝 (603)</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="157"/>
        <source>Decline the call to %1 (603 Decline)</source>
        <translation>拒绝打给 %1 的来电（603 Decline）</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="158"/>
        <source>Hang up</source>
        <translation>挂断</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="159"/>
        <source>Hang up the call of %1</source>
        <translation>挂断 %1 的通话</translation>
    </message>
    <message numerus="yes">
        <location filename="../extension_card.py" line="169"/>
        <location filename="../extension_card.py" line="198"/>
        <source>✉ %n new</source>
        <translation>
            <numerusform>✉ %n 条新留言</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="169"/>
        <location filename="../extension_card.py" line="199"/>
        <source>✉ no new messages</source>
        <translation>✉ 无新留言</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="200"/>
        <source>Messages waiting for %1: %2</source>
        <translation>%1 的未听留言：%2</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="211"/>
        <source>↪ always → %1</source>
        <translation>↪ 无条件转移 → %1</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="213"/>
        <source>↪ busy, no answer → %1</source>
        <translation>↪ 遇忙、无应答转移 → %1</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="216"/>
        <source>↪ busy → %1</source>
        <translation>↪ 遇忙转移 → %1</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="218"/>
        <source>↪ no answer → %1</source>
        <translation>↪ 无应答转移 → %1</translation>
    </message>
    <message>
        <location filename="../extension_card.py" line="219"/>
        <source>no forwarding</source>
        <translation>无呼叫转移</translation>
    </message>
</context>
<context>
    <name>GreetingsPanel</name>
    <message>
        <location filename="../greetings_panel.py" line="76"/>
        <source>Busy (after 486)</source>
        <translation>忙线（486 之后）</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="77"/>
        <source>Unavailable (no answer)</source>
        <translation>不可用（无应答）</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="78"/>
        <source>Default (direct deposit)</source>
        <translation>默认（直接留言）</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="81"/>
        <source>&amp;Greeting:</source>
        <translation>问候语(&amp;G)：</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="82"/>
        <source>Which greeting</source>
        <translation>哪一段问候语</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="83"/>
        <source>Play gr&amp;eeting</source>
        <translation>播放问候语(&amp;E)</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="84"/>
        <source>Play the chosen greeting</source>
        <translation>播放所选问候语</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="85"/>
        <source>Replace from &amp;WAV…</source>
        <translation>用 WAV 替换(&amp;W)…</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="87"/>
        <source>Replace the chosen greeting with a WAV file</source>
        <translation>用 WAV 文件替换所选问候语</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="88"/>
        <source>Rever&amp;t to default</source>
        <translation>恢复默认(&amp;T)</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="90"/>
        <source>Play the shipped greeting again instead of the mailbox&apos;s own</source>
        <translation>重新播放自带的问候语，而不是该信箱自己的录音</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="91"/>
        <source>Which file the greeting plays</source>
        <translation>问候语播放的是哪个文件</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="109"/>
        <source>Greetings of mailbox %1</source>
        <translation>信箱 %1 的问候语</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="110"/>
        <source>Greetings</source>
        <translation>问候语</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="120"/>
        <source>Plays the mailbox&apos;s own recording (%1 s).</source>
        <translation>播放该信箱自己的录音（%1 秒）。</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="121"/>
        <source>Plays the shipped greeting (%1 s).</source>
        <translation>播放自带的问候语（%1 秒）。</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="123"/>
        <source>The mailbox&apos;s own file is skipped: %1</source>
        <translation>已跳过该信箱自己的文件：%1</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="126"/>
        <source>Choose a mailbox.</source>
        <translation>请选择一个信箱。</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="139"/>
        <source>A WAV file for the greeting</source>
        <translation>用作问候语的 WAV 文件</translation>
    </message>
    <message>
        <location filename="../greetings_panel.py" line="140"/>
        <source>WAV files (*.wav *.WAV);;All files (*)</source>
        <translation>WAV 文件 (*.wav *.WAV);;所有文件 (*)</translation>
    </message>
</context>
<context>
    <name>HelpMenu</name>
    <message>
        <location filename="../help_menu.py" line="40"/>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../help_menu.py" line="41"/>
        <source>&amp;System check…</source>
        <translation>系统检查(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../help_menu.py" line="42"/>
        <source>&amp;About LabPBX</source>
        <translation>关于 LabPBX(&amp;A)</translation>
    </message>
</context>
<context>
    <name>LabBridge</name>
    <message>
        <location filename="../bridge.py" line="145"/>
        <source>Control port for labpbx call</source>
        <translation>labpbx call 的控制端口</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="217"/>
        <source>Call from %1 to %2</source>
        <translation>从 %1 呼叫 %2</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="221"/>
        <source>Policy of %1</source>
        <translation>%1 的应答策略</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="225"/>
        <source>Answer</source>
        <translation>接听</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="228"/>
        <source>Reject</source>
        <translation>拒接</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="231"/>
        <source>Hang up</source>
        <translation>挂断</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="234"/>
        <source>Timers</source>
        <translation>定时器</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="247"/>
        <source>Add AVP</source>
        <translation>添加 AVP</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="251"/>
        <source>Edit AVP</source>
        <translation>编辑 AVP</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="255"/>
        <source>Delete AVP</source>
        <translation>删除 AVP</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="259"/>
        <source>Mark message heard</source>
        <translation>标记留言为已听</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="260"/>
        <source>Mark message new</source>
        <translation>标记留言为未听</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="264"/>
        <source>Delete message</source>
        <translation>删除留言</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="268"/>
        <source>Replace greeting</source>
        <translation>替换问候语</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="273"/>
        <source>Revert greeting</source>
        <translation>恢复问候语</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="318"/>
        <source>Apply the script</source>
        <translation>应用脚本</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="321"/>
        <source>Revert to the default script</source>
        <translation>恢复默认脚本</translation>
    </message>
    <message>
        <location filename="../bridge.py" line="327"/>
        <location filename="../bridge.py" line="351"/>
        <source>the lab is not running</source>
        <translation>实验环境未运行</translation>
    </message>
</context>
<context>
    <name>LabText</name>
    <message>
        <location filename="../text.py" line="39"/>
        <source>Answer after…</source>
        <translation>延时接听…</translation>
    </message>
    <message>
        <location filename="../text.py" line="40"/>
        <source>Busy (486)</source>
        <translation>忙线 (486)</translation>
    </message>
    <message>
        <location filename="../text.py" line="41"/>
        <source>Let it ring</source>
        <translation>一直振铃</translation>
    </message>
    <message>
        <location filename="../text.py" line="42"/>
        <source>Unavailable (480)</source>
        <translation>暂不可用 (480)</translation>
    </message>
    <message>
        <location filename="../text.py" line="43"/>
        <source>Do not disturb</source>
        <translation>免打扰</translation>
    </message>
    <message>
        <location filename="../text.py" line="44"/>
        <source>Offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <location filename="../text.py" line="51"/>
        <source>starting</source>
        <translation>启动中</translation>
    </message>
    <message>
        <location filename="../text.py" line="52"/>
        <source>ready</source>
        <translation>就绪</translation>
    </message>
    <message>
        <location filename="../text.py" line="53"/>
        <source>stopping</source>
        <translation>停止中</translation>
    </message>
    <message>
        <location filename="../text.py" line="54"/>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <location filename="../text.py" line="55"/>
        <source>restarted</source>
        <translation>已重启</translation>
    </message>
    <message>
        <location filename="../text.py" line="56"/>
        <source>exited</source>
        <translation>已退出</translation>
    </message>
    <message>
        <location filename="../text.py" line="57"/>
        <location filename="../text.py" line="69"/>
        <source>failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <location filename="../text.py" line="64"/>
        <source>answered</source>
        <translation>已接听</translation>
    </message>
    <message>
        <location filename="../text.py" line="65"/>
        <source>busy → voicemail</source>
        <translation>忙线 → 语音信箱</translation>
    </message>
    <message>
        <location filename="../text.py" line="66"/>
        <source>no answer → voicemail</source>
        <translation>无应答 → 语音信箱</translation>
    </message>
    <message>
        <location filename="../text.py" line="67"/>
        <source>forwarded → voicemail</source>
        <translation>已转移 → 语音信箱</translation>
    </message>
    <message>
        <location filename="../text.py" line="68"/>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <location filename="../text.py" line="76"/>
        <source>setting up</source>
        <translation>建立中</translation>
    </message>
    <message>
        <location filename="../text.py" line="77"/>
        <source>ringing</source>
        <translation>振铃中</translation>
    </message>
    <message>
        <location filename="../text.py" line="78"/>
        <source>in call</source>
        <translation>通话中</translation>
    </message>
    <message>
        <location filename="../text.py" line="79"/>
        <source>ended</source>
        <translation>已结束</translation>
    </message>
    <message>
        <location filename="../text.py" line="100"/>
        <source>● registered — %1</source>
        <translation>● 已注册 — %1</translation>
    </message>
    <message>
        <location filename="../text.py" line="101"/>
        <source>● registered</source>
        <translation>● 已注册</translation>
    </message>
    <message>
        <location filename="../text.py" line="103"/>
        <source>○ offline (not registered)</source>
        <translation>○ 离线（未注册）</translation>
    </message>
    <message>
        <location filename="../text.py" line="105"/>
        <source>○ not registered — %1</source>
        <translation>○ 未注册 — %1</translation>
    </message>
    <message>
        <location filename="../text.py" line="106"/>
        <source>○ not registered</source>
        <translation>○ 未注册</translation>
    </message>
    <message>
        <location filename="../text.py" line="113"/>
        <source>Idle</source>
        <translation>空闲</translation>
    </message>
    <message>
        <location filename="../text.py" line="115"/>
        <source>☎ Ringing — call from %1</source>
        <translation>☎ 振铃中 — 来电：%1</translation>
    </message>
    <message>
        <location filename="../text.py" line="117"/>
        <source>Calling %1…</source>
        <translation>正在呼叫 %1…</translation>
    </message>
    <message>
        <location filename="../text.py" line="119"/>
        <source>In call with %1 — %2</source>
        <translation>与 %1 通话中 — %2</translation>
    </message>
    <message>
        <location filename="../text.py" line="133"/>
        <location filename="../text.py" line="156"/>
        <source>The phones cannot start: the pjsua2 library is missing.</source>
        <translation>话机无法启动：缺少 pjsua2 库。</translation>
    </message>
    <message>
        <location filename="../text.py" line="134"/>
        <location filename="../text.py" line="157"/>
        <source>Fix: install it into this Python: pip install &apos;pjsua2-python&gt;=2.15.1,&lt;2.16&apos;</source>
        <translation>解决方法：把它安装到当前的 Python 中：pip install &apos;pjsua2-python&gt;=2.15.1,&lt;2.16&apos;</translation>
    </message>
    <message>
        <location filename="../text.py" line="138"/>
        <source>A port the lab needs is already in use (another lab or SIP server?).</source>
        <translation>实验环境需要的端口已被占用（另一个实验环境或 SIP 服务器？）。</translation>
    </message>
    <message>
        <location filename="../text.py" line="140"/>
        <source>Fix: stop the other program, or start the window on any free port: labpbx gui --port 0 (or --port N).</source>
        <translation>解决方法：停止另一个程序，或在任意空闲端口上启动窗口：labpbx gui --port 0（或 --port N）。</translation>
    </message>
    <message>
        <location filename="../text.py" line="142"/>
        <source>Port %1: %2</source>
        <translation>端口 %1：%2</translation>
    </message>
    <message>
        <location filename="../text.py" line="145"/>
        <source>Another lab is already running in this data directory.</source>
        <translation>此数据目录中已有另一个实验环境在运行。</translation>
    </message>
    <message>
        <location filename="../text.py" line="146"/>
        <source>Fix: stop it (Ctrl-C in its terminal, or close its window), or open the window on another directory: labpbx --data DIR gui.</source>
        <translation>解决方法：停止它（在它的终端中按 Ctrl-C，或关闭它的窗口），或在另一个目录上打开窗口：labpbx --data DIR gui。</translation>
    </message>
    <message>
        <location filename="../text.py" line="151"/>
        <source>The lab could not start.</source>
        <translation>实验环境无法启动。</translation>
    </message>
</context>
<context>
    <name>LadderRender</name>
    <message>
        <location filename="../ladder_render.py" line="133"/>
        <source>%1 %2 s fired on branch %3: %4</source>
        <translation>%1（%2 秒）在分支 %3 上触发：%4</translation>
    </message>
    <message>
        <location filename="../ladder_render.py" line="138"/>
        <source>runs:</source>
        <translation>执行：</translation>
    </message>
    <message>
        <location filename="../ladder_render.py" line="142"/>
        <source>CANCEL sent on branch %1</source>
        <translation>已在分支 %1 上发送 CANCEL</translation>
    </message>
    <message>
        <location filename="../ladder_render.py" line="164"/>
        <source>caller</source>
        <translation>主叫</translation>
    </message>
    <message>
        <location filename="../ladder_render.py" line="165"/>
        <source>proxy</source>
        <translation>代理</translation>
    </message>
    <message>
        <location filename="../ladder_render.py" line="166"/>
        <source>callee</source>
        <translation>被叫</translation>
    </message>
    <message>
        <location filename="../ladder_render.py" line="167"/>
        <source>voicemail</source>
        <translation>语音信箱</translation>
    </message>
    <message>
        <location filename="../ladder_render.py" line="199"/>
        <source>time</source>
        <translation>时间</translation>
    </message>
</context>
<context>
    <name>LadderView</name>
    <message>
        <location filename="../ladder_view.py" line="42"/>
        <source>Ladder of the selected call</source>
        <translation>所选呼叫的信令流程图</translation>
    </message>
    <message>
        <location filename="../ladder_view.py" line="43"/>
        <source>One row per SIP message or script decision. Click a row, or use Up/Down, to see the message.</source>
        <translation>每行是一条 SIP 消息或一个脚本决策。点击某行或用上下方向键查看该消息。</translation>
    </message>
    <message>
        <location filename="../ladder_view.py" line="45"/>
        <source>Select a call to see its messages and decisions.</source>
        <translation>选择一个呼叫，查看它的信令消息和路由决策。</translation>
    </message>
</context>
<context>
    <name>LogModel</name>
    <message>
        <location filename="../log_view.py" line="139"/>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="139"/>
        <source>Call</source>
        <translation>呼叫</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="139"/>
        <source>Level</source>
        <translation>级别</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="139"/>
        <source>Where</source>
        <translation>位置</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="139"/>
        <source>What</source>
        <translation>内容</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="166"/>
        <source>decision</source>
        <translation>决策</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="168"/>
        <source>warning</source>
        <translation>警告</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="170"/>
        <source>error</source>
        <translation>错误</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="175"/>
        <source>%1 older events dropped by the lab</source>
        <translation>实验环境丢弃了 %1 条较早的事件</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="176"/>
        <source>… %1 older events dropped …</source>
        <translation>… 已丢弃 %1 条较早的事件 …</translation>
    </message>
</context>
<context>
    <name>LogView</name>
    <message>
        <location filename="../log_view.py" line="344"/>
        <source>Routing log</source>
        <translation>路由日志</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="345"/>
        <location filename="../log_view.py" line="404"/>
        <source>All calls</source>
        <translation>全部呼叫</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="346"/>
        <source>Show the log of one call</source>
        <translation>只显示某个呼叫的日志</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="347"/>
        <source>All levels</source>
        <translation>全部级别</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="347"/>
        <source>Decisions</source>
        <translation>路由决策</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="348"/>
        <source>xlog lines</source>
        <translation>xlog 行</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="348"/>
        <source>Warnings and errors</source>
        <translation>警告和错误</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="351"/>
        <source>Show log levels</source>
        <translation>显示哪些日志级别</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="352"/>
        <source>Filter text…</source>
        <translation>过滤文本…</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="353"/>
        <source>Filter the log by text</source>
        <translation>按文本过滤日志</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="354"/>
        <source>&amp;Call:</source>
        <translation>呼叫(&amp;C)：</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="354"/>
        <source>&amp;Level:</source>
        <translation>级别(&amp;L)：</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="355"/>
        <source>&amp;Text:</source>
        <translation>文本(&amp;T)：</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="358"/>
        <source>Show this line in the &amp;script</source>
        <translation>在脚本中显示这一行(&amp;S)</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="359"/>
        <source>Show the script line of this decision (Ctrl+J)</source>
        <translation>显示做出这个决策的脚本行（Ctrl+J）</translation>
    </message>
    <message>
        <location filename="../log_view.py" line="360"/>
        <source>Show this row in the call&apos;s &amp;ladder (Enter)</source>
        <translation>在呼叫的信令流程图中显示这一行(&amp;L)（Enter）</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../main_window.py" line="64"/>
        <source>Starting the lab…</source>
        <translation>正在启动实验环境…</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="206"/>
        <location filename="../main_window.py" line="207"/>
        <source>LabPBX</source>
        <translation>LabPBX</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="208"/>
        <source>&amp;Lab</source>
        <translation>实验环境(&amp;L)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="209"/>
        <source>&amp;Quit (stops the lab)</source>
        <translation>退出(&amp;Q)（停止实验环境）</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="210"/>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="211"/>
        <source>Zoom &amp;in</source>
        <translation>放大(&amp;I)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="211"/>
        <source>Zoom &amp;out</source>
        <translation>缩小(&amp;O)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="212"/>
        <source>&amp;Actual size</source>
        <translation>实际大小(&amp;A)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="214"/>
        <source>&amp;Filter the log</source>
        <translation>过滤日志(&amp;F)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="215"/>
        <source>L&amp;anguage</source>
        <translation>语言(&amp;A)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="217"/>
        <source>&amp;Calls</source>
        <translation>呼叫(&amp;C)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="218"/>
        <source>&amp;Routing log</source>
        <translation>路由日志(&amp;R)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="219"/>
        <source>Pr&amp;ovisioning</source>
        <translation>用户配置(&amp;O)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="220"/>
        <source>Voice&amp;mail</source>
        <translation>语音信箱(&amp;M)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="221"/>
        <source>&amp;Script</source>
        <translation>脚本(&amp;S)</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="222"/>
        <source>Views</source>
        <translation>视图</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="224"/>
        <source>Calls, routing log, provisioning, voicemail or script</source>
        <translation>呼叫、路由日志、用户配置、语音信箱或脚本</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="225"/>
        <source>Lab problems</source>
        <translation>实验环境问题</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="226"/>
        <source>Lab components</source>
        <translation>实验环境组件</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="227"/>
        <source>%v of %m extensions registered</source>
        <translation>已注册 %v / %m 个分机</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="228"/>
        <source>Start-up progress</source>
        <translation>启动进度</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="249"/>
        <source>The translation into %1 is missing: the window stays in English.</source>
        <translation>缺少 %1 的翻译文件：窗口仍显示英文。</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="277"/>
        <location filename="../main_window.py" line="285"/>
        <source>Starting…</source>
        <translation>启动中…</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="284"/>
        <location filename="../main_window.py" line="334"/>
        <source>%1: %2</source>
        <translation>%1：%2</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="292"/>
        <source>%1 stopped unexpectedly: %2</source>
        <translation>%1 意外停止：%2</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="324"/>
        <source>Lab running — proxy udp:%1 (register softphones here), voicemail %2</source>
        <translation>实验环境运行中 — 代理 udp:%1（软电话请在此注册），语音信箱 %2</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="329"/>
        <source>The lab is not running.</source>
        <translation>实验环境未运行。</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="338"/>
        <source>%1: done</source>
        <translation>%1：完成</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="379"/>
        <source>Zoom %1 %</source>
        <translation>缩放 %1 %</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="422"/>
        <source>Stopping the lab…</source>
        <translation>正在停止实验环境…</translation>
    </message>
    <message>
        <location filename="../main_window.py" line="431"/>
        <source>The lab has stopped.</source>
        <translation>实验环境已停止。</translation>
    </message>
</context>
<context>
    <name>MessagePane</name>
    <message>
        <location filename="../message_pane.py" line="38"/>
        <source>Selected message</source>
        <translation>所选消息</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="39"/>
        <source>Click a row of the ladder to see its SIP message.</source>
        <translation>点击信令流程图中的一行，查看它的 SIP 消息。</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="69"/>
        <source>Received by the proxy from %1 (%2)</source>
        <translation>代理从 %1 收到（%2）</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="72"/>
        <source>Sent by the proxy to %1 (%2)</source>
        <translation>代理发往 %1（%2）</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="75"/>
        <source>The proxy made this message itself.</source>
        <translation>这条消息由代理自己生成。</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="83"/>
        <source>nothing</source>
        <translation>无</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="84"/>
        <source>“-” as received from %1, “+” as forwarded to %2.</source>
        <translation>“-” 为从 %1 收到的内容，“+” 为转发给 %2 的内容。</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="86"/>
        <source>Changed by the proxy: %1</source>
        <translation>代理修改了：%1</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="91"/>
        <source>changed</source>
        <translation>已修改</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="91"/>
        <source>added</source>
        <translation>已添加</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="92"/>
        <source>removed</source>
        <translation>已删除</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="97"/>
        <source>Script: %1</source>
        <translation>脚本：%1</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="99"/>
        <source>Action: %1</source>
        <translation>动作：%1</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="101"/>
        <source>Before: %1</source>
        <translation>之前：%1</translation>
    </message>
    <message>
        <location filename="../message_pane.py" line="103"/>
        <source>After: %1</source>
        <translation>之后：%1</translation>
    </message>
</context>
<context>
    <name>ProvisioningView</name>
    <message>
        <location filename="../provisioning_view.py" line="158"/>
        <source>callfwd: for each INVITE the script runs avp_db_load(&quot;$ru&quot;, &quot;$avp(callfwd)&quot;), which looks up the rows of the Request-URI&apos;s user (the domain is not compared). When one is found, $ru becomes its value and the call goes there instead of to the phone: an unconditional forward, applied from the next call on.</source>
        <translation>callfwd：对每个 INVITE，脚本执行 avp_db_load(&quot;$ru&quot;, &quot;$avp(callfwd)&quot;)，查找 Request-URI 中用户的记录（不比较域名）。找到时，$ru 变为该值，呼叫转到那里而不是话机：这是无条件呼叫转移，从下一个呼叫起生效。</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="162"/>
        <source>usr_preferences rows</source>
        <translation>usr_preferences 记录</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="163"/>
        <source>&amp;New AVP…</source>
        <translation>新建 AVP(&amp;N)…</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="164"/>
        <source>Add an AVP</source>
        <translation>添加 AVP</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="165"/>
        <source>&amp;Edit…</source>
        <translation>编辑(&amp;E)…</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="166"/>
        <source>Edit the selected AVP</source>
        <translation>编辑所选 AVP</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="167"/>
        <source>&amp;Delete</source>
        <translation>删除(&amp;D)</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="168"/>
        <source>Delete the selected AVP</source>
        <translation>删除所选 AVP</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="169"/>
        <source>Provisioning problem</source>
        <translation>用户配置问题</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="170"/>
        <source>Proxy timers (tm)</source>
        <translation>代理定时器（tm）</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="171"/>
        <source>fr_&amp;timeout:</source>
        <translation>fr_timeout(&amp;T)：</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="172"/>
        <source>fr_&amp;inv_timeout:</source>
        <translation>fr_inv_timeout(&amp;I)：</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="174"/>
        <source> s</source>
        <translation> 秒</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="175"/>
        <source>fr_timeout in seconds</source>
        <translation>fr_timeout（秒）</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="176"/>
        <source>How long a branch waits for a first reply of any kind (RFC 3261 timer B/F).</source>
        <translation>一个分支等待任何首个响应的时长（RFC 3261 定时器 B/F）。</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="178"/>
        <source>fr_inv_timeout in seconds</source>
        <translation>fr_inv_timeout（秒）</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="179"/>
        <source>How long an INVITE may ring after its first provisional reply before it counts as not answered (then failure_route runs).</source>
        <translation>INVITE 收到首个临时响应后可以振铃多久，超过即视为无应答（然后执行 failure_route）。</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="182"/>
        <source>Appl&amp;y</source>
        <translation>应用(&amp;Y)</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="183"/>
        <source>Apply the timers to the running proxy</source>
        <translation>将定时器应用到运行中的代理</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="184"/>
        <source>Timers of the running proxy</source>
        <translation>运行中代理的定时器</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="207"/>
        <source>The table cannot be read: %1</source>
        <translation>无法读取该表：%1</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="279"/>
        <source>%1 failed: %2</source>
        <translation>%1 失败：%2</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="325"/>
        <source>The running proxy uses fr_timeout %1 s and fr_inv_timeout %2 s. Changes apply to timers armed from now on; calls in progress go on.</source>
        <translation>运行中的代理使用 fr_timeout %1 秒和 fr_inv_timeout %2 秒。修改只作用于此后启动的定时器；进行中的呼叫不受影响。</translation>
    </message>
    <message>
        <location filename="../provisioning_view.py" line="328"/>
        <source>The proxy will start with fr_timeout %1 s and fr_inv_timeout %2 s (the lab is not running).</source>
        <translation>代理将以 fr_timeout %1 秒和 fr_inv_timeout %2 秒启动（实验环境未运行）。</translation>
    </message>
</context>
<context>
    <name>ScriptEditor</name>
    <message>
        <location filename="../script_editor.py" line="168"/>
        <source>Chec&amp;k</source>
        <translation>检查(&amp;K)</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="169"/>
        <source>Check the script for errors (Ctrl+Return)</source>
        <translation>检查脚本中的错误（Ctrl+Return）</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="170"/>
        <source>Check the script</source>
        <translation>检查脚本</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="171"/>
        <source>A&amp;pply</source>
        <translation>应用(&amp;P)</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="173"/>
        <source>Load this script into the running proxy; calls in progress go on. A script with an error is refused and the proxy keeps the one it runs (Ctrl+Shift+Return)</source>
        <translation>将此脚本加载到运行中的代理；进行中的呼叫不受影响。有错误的脚本会被拒绝，代理继续运行原来的脚本（Ctrl+Shift+Return）</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="175"/>
        <source>Apply the script to the proxy</source>
        <translation>将脚本应用到代理</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="176"/>
        <source>Revert to &amp;default</source>
        <translation>恢复默认(&amp;D)</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="178"/>
        <source>Run the script the lab started with again and show it here (Ctrl+Z in the text brings your edit back)</source>
        <translation>重新运行实验环境启动时的脚本并在此显示（在文本中按 Ctrl+Z 可找回你的修改）</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="180"/>
        <source>Revert to the default script</source>
        <translation>恢复默认脚本</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="181"/>
        <source>Op&amp;en…</source>
        <translation>打开(&amp;E)…</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="182"/>
        <source>Open a script file into the editor; Apply runs it (Ctrl+O)</source>
        <translation>在编辑器中打开脚本文件；点“应用”即运行它（Ctrl+O）</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="184"/>
        <source>Open a script file</source>
        <translation>打开脚本文件</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="185"/>
        <source>Save as…</source>
        <translation>另存为…</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="186"/>
        <source>Save the text to a file of your own (Ctrl+S)</source>
        <translation>将文本保存到你自己的文件（Ctrl+S）</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="187"/>
        <source>Save the script as a file</source>
        <translation>将脚本另存为文件</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="188"/>
        <source>Routing script</source>
        <translation>路由脚本</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="190"/>
        <source>OpenSIPS routing script. Tab indents; Ctrl+Tab moves to the next control.</source>
        <translation>OpenSIPS 路由脚本。Tab 缩进；Ctrl+Tab 移到下一个控件。</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="191"/>
        <source>Script status</source>
        <translation>脚本状态</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="192"/>
        <source>Latest routing decision</source>
        <translation>最近的路由决策</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="193"/>
        <source>Script errors</source>
        <translation>脚本错误</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="194"/>
        <source>Click an error, or press Enter on it, to go to its line</source>
        <translation>点击某个错误或在其上按 Enter，跳到对应的行</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="277"/>
        <source>Cannot open %1: %2</source>
        <translation>无法打开 %1：%2</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="289"/>
        <source>Cannot save %1: %2</source>
        <translation>无法保存 %1：%2</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="294"/>
        <source>Saved to %1.</source>
        <translation>已保存到 %1。</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="315"/>
        <source>No routing decision yet: place a call to see which line decides.</source>
        <translation>还没有路由决策：发起一个呼叫，看看是哪一行做出决策。</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="319"/>
        <source>▶ Latest decision: line %1, in %2.</source>
        <translation>▶ 最近的决策：第 %1 行，位于 %2。</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="362"/>
        <source>Line %1, column %2: %3</source>
        <translation>第 %1 行，第 %2 列：%3</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="403"/>
        <source>Waiting for the lab to start…</source>
        <translation>正在等待实验环境启动…</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="407"/>
        <source>✓ Applied: the proxy runs this script.</source>
        <translation>✓ 已应用：代理正在运行此脚本。</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="408"/>
        <source>✓ The proxy runs this script (%1).</source>
        <translation>✓ 代理正在运行此脚本（%1）。</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="410"/>
        <source>● Modified, not applied: the proxy still runs the previous script.</source>
        <translation>● 已修改，未应用：代理仍在运行之前的脚本。</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="412"/>
        <source>Checking…</source>
        <translation>正在检查…</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="415"/>
        <source>✓ No errors. Modified, not applied yet.</source>
        <translation>✓ 没有错误。已修改，尚未应用。</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="416"/>
        <source>✓ No errors: the proxy runs this script.</source>
        <translation>✓ 没有错误：代理正在运行此脚本。</translation>
    </message>
    <message numerus="yes">
        <location filename="../script_editor.py" line="418"/>
        <source>⚠ %n error(s); the first at line %1, column %2.</source>
        <translation>
            <numerusform>⚠ %n 个错误；第一个在第 %1 行，第 %2 列。</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="421"/>
        <source>Applying…</source>
        <translation>正在应用…</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="423"/>
        <source>⚠ Not applied: error at line %1, column %2. The proxy keeps running the previous script.</source>
        <translation>⚠ 未应用：第 %1 行第 %2 列有错误。代理继续运行之前的脚本。</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="426"/>
        <source>⚠ %1</source>
        <translation>⚠ %1</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="432"/>
        <source>Open a routing script</source>
        <translation>打开路由脚本</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="433"/>
        <location filename="../script_editor.py" line="440"/>
        <source>Routing scripts (*.cfg);;All files (*)</source>
        <translation>路由脚本 (*.cfg);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../script_editor.py" line="439"/>
        <source>Save the routing script as</source>
        <translation>将路由脚本另存为</translation>
    </message>
</context>
<context>
    <name>Voicemail</name>
    <message>
        <location filename="../voicemail_model.py" line="37"/>
        <source>busy</source>
        <translation>忙线</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="38"/>
        <source>unavailable</source>
        <translation>不可用</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="39"/>
        <source>direct</source>
        <translation>直接留言</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="58"/>
        <source>%1 — empty</source>
        <translation>%1 — 空</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="59"/>
        <source>%1 — %2 new of %3</source>
        <translation>%1 — %2 条未听，共 %3 条</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="93"/>
        <source>Caller</source>
        <translation>主叫</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="93"/>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="94"/>
        <source>Reason</source>
        <translation>原因</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="94"/>
        <source>Duration</source>
        <translation>时长</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="95"/>
        <source>Heard</source>
        <translation>已听</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="113"/>
        <source>heard</source>
        <translation>已听</translation>
    </message>
    <message>
        <location filename="../voicemail_model.py" line="114"/>
        <source>new</source>
        <translation>未听</translation>
    </message>
</context>
<context>
    <name>VoicemailView</name>
    <message>
        <location filename="../voicemail_view.py" line="145"/>
        <source>Mailboxes</source>
        <translation>信箱</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="147"/>
        <source>Messages of the chosen mailbox</source>
        <translation>所选信箱中的留言</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="148"/>
        <source>&amp;Play</source>
        <translation>播放(&amp;P)</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="149"/>
        <source>Play the selected message</source>
        <translation>播放所选留言</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="150"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="151"/>
        <source>Stop playing</source>
        <translation>停止播放</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="152"/>
        <source>&amp;Delete</source>
        <translation>删除(&amp;D)</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="153"/>
        <source>Delete the selected message</source>
        <translation>删除所选留言</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="154"/>
        <source>Playback</source>
        <translation>播放</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="155"/>
        <source>Voicemail result</source>
        <translation>语音信箱操作结果</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="156"/>
        <source>Chosen mailbox</source>
        <translation>所选信箱</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="203"/>
        <source>The mailboxes cannot be read: %1</source>
        <translation>无法读取信箱：%1</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="248"/>
        <source>Choose a mailbox.</source>
        <translation>请选择一个信箱。</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="250"/>
        <source>Mailbox %1: %2 new, %3 in all</source>
        <translation>信箱 %1：%2 条未听，共 %3 条</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="260"/>
        <source>Mark &amp;new</source>
        <translation>标记为未听(&amp;N)</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="261"/>
        <source>Mark the selected message as new</source>
        <translation>将所选留言标记为未听</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="263"/>
        <source>Mark &amp;heard</source>
        <translation>标记为已听(&amp;H)</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="264"/>
        <source>Mark the selected message as heard</source>
        <translation>将所选留言标记为已听</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="291"/>
        <source>%1: done.</source>
        <translation>%1：完成。</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="298"/>
        <source>%1 failed: %2</source>
        <translation>%1 失败：%2</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="324"/>
        <source>Cannot play: %1</source>
        <translation>无法播放：%1</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="341"/>
        <source>Playback is off: %1</source>
        <translation>播放已关闭：%1</translation>
    </message>
    <message>
        <location filename="../voicemail_view.py" line="343"/>
        <source>▶ Playing %1</source>
        <translation>▶ 正在播放 %1</translation>
    </message>
</context>
</TS>
