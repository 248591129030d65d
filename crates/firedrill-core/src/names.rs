//! Enums whose values are written in scenario files (`fault action`,
//! `backup method`, ...): one declaration gives the variants, their names,
//! the list shown to users and the parser, so the list cannot disagree with
//! the match arms that use the variants.

/// Declare an enum of scenario values.
///
/// ```
/// firedrill_core::named_enum! {
///     /// What the fault does.
///     pub enum Action { Stop = "stop", Reboot = "reboot" }
/// }
/// assert_eq!(Action::NAMES, ["stop", "reboot"]);
/// assert_eq!(Action::from_name("reboot"), Some(Action::Reboot));
/// assert_eq!(Action::Stop.as_str(), "stop");
/// ```
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in the order the documentation lists them.
            #[allow(dead_code)]
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every value as written in a scenario file.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The value as written in a scenario file.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value a scenario file names, if any.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Parse a scenario value; when it is none of [`Self::NAMES`],
            /// push "unknown `what`" with a did-you-mean and return `None`.
            #[allow(dead_code)]
            pub fn parse(
                value: &$crate::input::Spanned<String>,
                what: &str,
                diags: &mut Vec<$crate::Diagnostic>,
            ) -> Option<Self> {
                let parsed = Self::from_name(value.get_ref());
                if parsed.is_none() {
                    $crate::validate::one_of(value, what, Self::NAMES, diags);
                }
                parsed
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}
